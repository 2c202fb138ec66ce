"""Archive writing throughput against `tar | zstd` of the same folders, and peak memory at
two data sizes, measured in one run (not a timed test).

Writes a data folder of SIZE MB (files of mixed sizes, half compressible text, half random
bytes, like photos beside a database export), then times:
  - `tar -c DIR | zstd -3 -T0 > out` (the tools a user would reach for), and
  - stackctl's archive writer (tar, zstd -3 on every core, age with a passphrase), in a
    child process whose peak RSS is read from the kernel.
Usage: python bench/backup.py [--sizes 100 1000] [--folder /var/tmp]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import sys, time
from pathlib import Path
from stackctl.backup import age
from stackctl.backup.archive import ArchiveWriter, Keys
age.SCRYPT_WORK = 10
source, target = Path(sys.argv[1]), sys.argv[2]
with open(target, "wb") as out:
    writer = ArchiveWriter(out, Keys(passphrase=b"bench"))
    writer.add_tree("data/bench", source)
    writer.finish({})
"""


def make_data(folder: Path, megabytes: int) -> None:
    line = b"INSERT INTO statuses VALUES (1042, 'a toot about the weather', now());\n"
    made, index = 0, 0
    while made < megabytes * 1024 * 1024:
        size = (4, 64, 1024, 8192)[index % 4] * 1024
        sub = folder / f"d{index % 16}"
        sub.mkdir(parents=True, exist_ok=True)
        data = os.urandom(size) if index % 2 else (line * (size // len(line) + 1))[:size]
        (sub / f"f{index}").write_bytes(data)
        made += size
        index += 1


def timed(argv: list[str]) -> tuple[float, int]:
    """Seconds and peak RSS (KiB) of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(argv, check=True)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--folder", default="/var/tmp")
    args = parser.parse_args()
    for megabytes in args.sizes:
        work = Path(tempfile.mkdtemp(prefix="stackctl-bench-", dir=args.folder))
        try:
            make_data(work / "data", megabytes)
            shell = f"tar -C {work} -c data | zstd -q -3 -T0 > {work}/plain.tar.zst"
            tools, _ = timed(["sh", "-c", shell])
            # a fresh interpreter per measurement: its peak RSS is its own
            ours = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", CHILD + "\nimport resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)",
                 str(work / "data"), str(work / "ours.tar.zst.age")],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            ours = time.perf_counter() - ours
            peak = int(done.stdout.split()[-1])
            size = sum(p.stat().st_size for p in (work / "data").rglob("*") if p.is_file())
            print(
                f"{megabytes} MB: tar|zstd {tools:.2f} s, stackctl {ours:.2f} s "
                f"(ratio {tools / ours:.2f}x of tar|zstd throughput), "
                f"stackctl peak RSS {peak / 1024:.0f} MiB, "
                f"archives {Path(work, 'plain.tar.zst').stat().st_size / 1e6:.0f} MB vs "
                f"{Path(work, 'ours.tar.zst.age').stat().st_size / 1e6:.0f} MB of {size / 1e6:.0f} MB"
            )
        finally:
            shutil.rmtree(work)


if __name__ == "__main__":
    main()
