"""A backup's throughput against `tar | zstd` of the same folders, and its peak memory at two
sizes, measured in one run (not a timed test).

For each SIZE (MB): a folder of SIZE MB of data files (half SQL-like text, half random bytes,
like exports beside photos, in files of 4 KiB to 8 MiB) and a database dump of SIZE/5 MB
(1 GB of files and a 200 MB database at 1000). Then, interleaved, ROUNDS times each:
  - `tar -c data dump.sql | zstd -q -3 -T0 > out` (the tools a user would reach for), and
  - stackctl's backup path in a fresh interpreter: the dump streamed through the engine
    adapter's exec pump (`cat` stands in for `docker exec ... pg_dumpall`) into its spool
    file, the archive written (tar, zstd -3 on every core, age with a passphrase, SHA-256
    of every member), fsynced, read back and renamed, as `stackctl backup` does.
The ratio is tar|zstd's median time over stackctl's (1.0 = as fast). scrypt's work factor
is lowered to 2^10 here: at age's 2^18 it adds about a second and 256 MiB once per archive.
Usage: python bench/backup.py [--sizes 100 1000] [--rounds 3] [--folder /var/tmp]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import os, resource, sys, time
from pathlib import Path
from stackctl.backup import age
from stackctl.backup.archive import ArchiveWriter, Keys, verify
from stackctl.backup.spec import BackupSpec
from stackctl.backup.take import _add_dump
from stackctl.docker_engine import _run
age.SCRYPT_WORK = 10

class Pump:  # the engine adapter's exec path, with `cat` in place of `docker exec`
    def exec_stream(self, container, argv, stdin, stdout, user=None):
        return _run(["cat", container], stdout=stdout).code

work = Path(sys.argv[1])
keys = Keys(passphrase=b"bench")
partial, final = work / ".ours.partial", work / "ours.tar.zst.age"
started = time.perf_counter()
with open(partial, "wb") as raw:
    writer = ArchiveWriter(raw, keys)
    writer.add_tree("data/bench", work / "data")
    spec = BackupSpec(method="postgres-dump")
    _add_dump(writer, Pump(), str(work / "dump.sql"), spec, "dumps/bench/db.sql", work)
    writer.finish({})
    raw.flush()
    os.fsync(raw.fileno())
written = time.perf_counter()
verify(partial, keys, writer.file_key)
os.replace(partial, final)
done = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(written - started, done - written, peak)
"""

TABLES = ("statuses", "accounts", "media_attachments", "notifications", "follows")
WORDS = "the a weather toot photo cat garden meeting tomorrow coffee bike river news".split()


def sql_corpus(size: int) -> bytes:
    """Rows of a pg_dump-like text: varied enough that zstd works for its ratio."""
    rng = random.Random(11)
    rows, made = [], 0
    while made < size:
        text = " ".join(rng.choices(WORDS, k=rng.randint(3, 14)))
        row = (
            f"{rng.randint(1, 10**9)}\t{rng.choice(TABLES)}\t{text}\t"
            f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}+00\t"
            f"{rng.random():.6f}\n"
        ).encode()
        rows.append(row)
        made += len(row)
    return b"".join(rows)[:size]


def make_data(work: Path, megabytes: int) -> None:
    corpus = sql_corpus(8 * 1024 * 1024)
    made, index = 0, 0
    while made < megabytes * 1024 * 1024:
        size = (4, 64, 1024, 8192)[(index // 2) % 4] * 1024
        sub = work / "data" / f"d{index % 16}"
        sub.mkdir(parents=True, exist_ok=True)
        if index % 2:
            data = os.urandom(size)
        else:
            start = (index * 7919) % (len(corpus) - size) if size < len(corpus) else 0
            data = (corpus[start:] + corpus)[:size]
        (sub / f"f{index}").write_bytes(data)
        made += size
        index += 1
    with (work / "dump.sql").open("wb") as dump:
        left = megabytes * 1024 * 1024 // 5
        while left > 0:
            piece = corpus[: min(left, len(corpus))]
            dump.write(piece)
            left -= len(piece)


def _cpu() -> float:
    """CPU seconds (user + system) of the waited-for children so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def tools(work: Path) -> tuple[float, float]:
    """Seconds and CPU seconds of `tar | zstd`."""
    shell = f"tar -C {work} -c data dump.sql | zstd -q -3 -T0 > {work}/plain.tar.zst"
    cpu, started = _cpu(), time.perf_counter()
    subprocess.run(["sh", "-c", shell], check=True)
    return time.perf_counter() - started, _cpu() - cpu


def ours(work: Path) -> tuple[float, float, float, float, int]:
    """Seconds, CPU seconds, (writing, read-back) seconds and peak RSS (KiB) of a backup in a
    fresh interpreter (its start-up counts: `stackctl backup` has one too)."""
    cpu, started = _cpu(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(work)], check=True, capture_output=True, text=True
    )
    total, used = time.perf_counter() - started, _cpu() - cpu
    writing, reading, peak = done.stdout.split()
    return total, used, float(writing), float(reading), int(peak)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--folder", default="/var/tmp")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    for megabytes in args.sizes:
        work = Path(tempfile.mkdtemp(prefix="stackctl-bench-", dir=args.folder))
        try:
            make_data(work, megabytes)
            theirs, mine = [], []
            for round_ in range(args.rounds):  # interleaved, the order alternating
                if round_ % 2:
                    mine.append(ours(work))
                    theirs.append(tools(work))
                else:
                    theirs.append(tools(work))
                    mine.append(ours(work))
            size = sum(p.stat().st_size for p in (work / "data").rglob("*") if p.is_file())
            size += (work / "dump.sql").stat().st_size

            def median(runs: list[tuple[float, ...]], column: int) -> float:
                return statistics.median(run[column] for run in runs)

            tool_s, our_s = median(theirs, 0), median(mine, 0)
            print(
                f"{size / 1e6:.0f} MB ({megabytes} MB of files, a {megabytes // 5} MB dump), "
                f"medians of {args.rounds}:\n"
                f"  tar|zstd  {tool_s:5.2f} s  {median(theirs, 1):5.2f} CPU s\n"
                f"  stackctl  {our_s:5.2f} s  {median(mine, 1):5.2f} CPU s  (writing "
                f"{median(mine, 2):.2f} s, read-back {median(mine, 3):.2f} s, the rest "
                f"start-up)  peak RSS {max(run[4] for run in mine) / 1024:.0f} MiB\n"
                f"  ratio {tool_s / our_s:.2f}x of tar|zstd throughput "
                f"(CPU {median(theirs, 1) / median(mine, 1):.2f}x); archives "
                f"{(work / 'plain.tar.zst').stat().st_size / 1e6:.0f} MB vs "
                f"{(work / 'ours.tar.zst.age').stat().st_size / 1e6:.0f} MB"
            )
        finally:
            shutil.rmtree(work)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
