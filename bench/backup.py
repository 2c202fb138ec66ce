"""A backup's throughput against `tar | zstd` of the same folders, and its peak memory at two
sizes, measured in one run (not a timed test).

For each SIZE (MB): a folder of SIZE MB of data files (half SQL-like text, half random bytes,
like exports beside photos, in files of 4 KiB to 8 MiB) and a database dump of SIZE/5 MB
(1 GB of files and a 200 MB database at 1000). Then, interleaved, ROUNDS times each:
  - `tar -c data dump.sql | zstd -q -3 -T0 > out` (the tools a user would reach for), and
  - stackctl's backup path in a fresh interpreter: the dump streamed through the engine
    adapter's exec pump (`cat` stands in for `docker exec ... pg_dumpall`) into its spool
    file while the data folder is archived, then the archive finished (tar, zstd -3 on
    every core, age with a passphrase, SHA-256 of every member), fsynced, read back and
    renamed, as `stackctl backup` does.
With --postgres IMAGE the dump comes from a real Postgres instead: a container of IMAGE
holding a table of SIZE/5 MB of dump text, dumped by `docker exec ... pg_dumpall` into
dump.sql before tar|zstd runs, and by stackctl's own dump command through the engine
adapter's exec_stream; the container is removed at the end. Run it under the engine lock.
The ratio is tar|zstd's time over stackctl's (1.0 = as fast), of the medians and of the
best runs (the best is what each reaches when the shared machine lets it). scrypt's work
factor is lowered to 2^10: at age's 2^18 it adds about a second and 256 MiB per archive.
Usage: python bench/backup.py [--sizes 100 1000] [--rounds 3] [--folder /var/tmp]
       flock /tmp/stackctl-engine.lock python bench/backup.py --postgres stackctl-test/postgres:17
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
from stackctl.backup.take import SpooledDump
from stackctl.docker_engine import DockerEngine, _run
age.SCRYPT_WORK = 10

class Pump:  # the engine adapter's exec path, with `cat` in place of `docker exec`
    def exec_stream(self, container, argv, stdin, stdout, user=None):
        return _run(["cat", container], stdout=stdout).code

# the backup
work, container = Path(sys.argv[1]), sys.argv[2]
engine, source = (DockerEngine(), container) if container else (Pump(), str(work / "dump.sql"))
keys = Keys(passphrase=b"bench")
partial, final = work / ".ours.partial", work / "ours.tar.zst.age"
started = time.perf_counter()
with open(partial, "wb") as raw:
    writer = ArchiveWriter(raw, keys)
    # as `stackctl backup`: the dump spools while the data folder is archived
    dump = SpooledDump(engine, source, BackupSpec(method="postgres-dump"), work / ".dump.partial")
    writer.add_tree("data/bench", work / "data")
    dump.add_to(writer, "dumps/bench/db.sql")
    writer.finish({})
    raw.flush()
    written = time.perf_counter()
    os.fsync(raw.fileno())
synced = time.perf_counter()
verify(partial, keys, writer.file_key)
os.replace(partial, final)
done = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(written - started, synced - written, done - synced, peak)
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
    write_dump(work / "dump.sql", megabytes, corpus)


def write_dump(path: Path, megabytes: int, corpus: bytes) -> None:
    with path.open("wb") as dump:
        left = megabytes * 1024 * 1024 // 5
        while left > 0:
            piece = corpus[: min(left, len(corpus))]
            dump.write(piece)
            left -= len(piece)


# as installed from a wheel: modules compiled once, not again on every start
INSTALLED = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _cpu() -> float:
    """CPU seconds (user + system) of the waited-for children so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def start_postgres(image: str, megabytes: int) -> str:
    """A container of `image` whose pg_dumpall is about megabytes/5 MB; its name."""
    name = f"stackctl-bench-pg-{os.getpid()}"
    subprocess.run(
        ["docker", "run", "-d", "--name", name, "-e", "POSTGRES_PASSWORD=bench", image],
        check=True,
        capture_output=True,
    )
    for _ in range(120):
        ready = ["docker", "exec", name, "pg_isready", "-q", "-h", "127.0.0.1", "-U", "postgres"]
        if subprocess.run(ready, capture_output=True).returncode == 0:
            break
        time.sleep(0.5)
    rows = megabytes * 1024 * 1024 // 5 // 110  # a dumped row is about 110 bytes
    fill = (
        "CREATE TABLE statuses AS SELECT g AS id, md5(g::text) AS body, "
        "now() - g * interval '1 second' AS created_at, md5((g * 7)::text) AS uri "
        f"FROM generate_series(1, {rows}) g"
    )
    subprocess.run(
        ["docker", "exec", name, "psql", "-q", "-U", "postgres", "-c", fill],
        check=True,
        capture_output=True,
    )
    return name


def tools(work: Path, container: str) -> tuple[float, float]:
    """Seconds and CPU seconds of `tar | zstd` (after `docker exec ... pg_dumpall > dump.sql`
    with a real Postgres: a user dumps first)."""
    shell = f"tar -C {work} -c data dump.sql | zstd -q -3 -T0 > {work}/plain.tar.zst"
    if container:
        dump = f"docker exec {container} pg_dumpall --clean --if-exists -U postgres"
        shell = f"{dump} > {work}/dump.sql && {shell}"
    cpu, started = _cpu(), time.perf_counter()
    subprocess.run(["sh", "-c", shell], check=True)
    return time.perf_counter() - started, _cpu() - cpu


def ours(work: Path, container: str) -> tuple[float, float, float, float, float, int]:
    """Seconds, CPU seconds, (writing, fsync, read-back) seconds and peak RSS (KiB) of a
    backup in a fresh interpreter (its start-up counts: `stackctl backup` has one too)."""
    cpu, started = _cpu(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(work), container],
        check=True,
        capture_output=True,
        text=True,
        env=INSTALLED,
    )
    total, used = time.perf_counter() - started, _cpu() - cpu
    writing, syncing, reading, peak = done.stdout.split()
    return total, used, float(writing), float(syncing), float(reading), int(peak)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--folder", default="/var/tmp")
    parser.add_argument("--postgres", default="", help="an image: dump a real Postgres")
    args = parser.parse_args()
    warm_up = CHILD.split("# the backup")[0]  # the imports: their bytecode is written once
    subprocess.run([sys.executable, "-c", warm_up], check=True, env=INSTALLED)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    for megabytes in args.sizes:
        work = Path(tempfile.mkdtemp(prefix="stackctl-bench-", dir=args.folder))
        container = ""
        try:
            make_data(work, megabytes)
            if args.postgres:
                container = start_postgres(args.postgres, megabytes)
            theirs, mine = [], []
            for round_ in range(args.rounds):  # interleaved, the order alternating
                if round_ % 2:
                    mine.append(ours(work, container))
                    theirs.append(tools(work, container))
                else:
                    theirs.append(tools(work, container))
                    mine.append(ours(work, container))
            size = sum(p.stat().st_size for p in (work / "data").rglob("*") if p.is_file())
            size += (work / "dump.sql").stat().st_size

            def median(runs: list[tuple[float, ...]], column: int) -> float:
                return statistics.median(run[column] for run in runs)

            tool_s, our_s = median(theirs, 0), median(mine, 0)
            tool_best, our_best = min(run[0] for run in theirs), min(run[0] for run in mine)
            dump = "a Postgres dump" if container else "a dump"
            print(
                f"{size / 1e6:.0f} MB ({megabytes} MB of files, {dump} of "
                f"{(work / 'dump.sql').stat().st_size / 1e6:.0f} MB), {args.rounds} rounds:\n"
                f"  tar|zstd  median {tool_s:5.2f} s  best {tool_best:5.2f} s  "
                f"{median(theirs, 1):5.2f} CPU s\n"
                f"  stackctl  median {our_s:5.2f} s  best {our_best:5.2f} s  "
                f"{median(mine, 1):5.2f} CPU s  (writing {median(mine, 2):.2f} s, fsync "
                f"{median(mine, 3):.2f} s, read-back {median(mine, 4):.2f} s, the rest start-up)"
                f"  peak RSS {max(run[5] for run in mine) / 1024:.0f} MiB\n"
                f"  ratio {tool_s / our_s:.2f}x of tar|zstd throughput (best runs "
                f"{tool_best / our_best:.2f}x, CPU {median(theirs, 1) / median(mine, 1):.2f}x); "
                f"archives {(work / 'plain.tar.zst').stat().st_size / 1e6:.0f} MB vs "
                f"{(work / 'ours.tar.zst.age').stat().st_size / 1e6:.0f} MB"
            )
        finally:
            shutil.rmtree(work)
            if container:
                subprocess.run(["docker", "rm", "-f", container], capture_output=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
