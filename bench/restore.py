"""Restore + deploy of two stacks from one archive, images already present (not a timed test).

Deploys Ente (stand-ins, the real Postgres) and Etherpad 2.5.3 on MariaDB 10.11 (the real
apps, tests/images) under a throw-away site whose name_prefix keeps them apart from any
real stack, puts data in (rows in Ente's Postgres, a file in its data folder, pads through
Etherpad's API), backs both up into one archive, then twice removes everything of those
stacks (containers, volumes, networks, stack folders, data, the site config) and times:
  - `restore FILE` alone, then `deploy --all` alone (the two steps, one after the other);
  - `restore FILE --deploy` (the scripted reinstall's one command);
the two interleaved, --runs times each, and reported as medians.
Printed as seconds and as ratios to the first deploy of the same stacks (images present,
nothing to restore), measured in the same run. Only what this script made is removed.

Usage: python bench/restore.py [--runs N] [--rows N] [--file-mb N] [--stackctl PATH]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

PREFIX = f"benchrestore{os.getpid()}-"
STACKS = ("ente", "etherpad")
IMAGES = {
    "ghcr.io/ente/server": "stackctl-test/museum-standin:latest",
    "ghcr.io/ente/web": "stackctl-test/ente-web-standin:latest",
    "quay.io/minio/minio": "stackctl-test/minio-standin:latest",
    "alpine/socat": "stackctl-test/socat:latest",
    "postgres": "stackctl-test/postgres:15",
    "etherpad/etherpad": "stackctl-test/etherpad:2.5.3",
    "mariadb": "stackctl-test/mariadb:10.11",
}
PASSPHRASE = "bench passphrase"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_pool() -> str:
    """A /16 no Docker network overlaps now."""
    ids = run(["docker", "network", "ls", "-q"]).split()
    taken = [
        ipaddress.ip_network(config["Subnet"])
        for network in json.loads(run(["docker", "network", "inspect", *ids]) or "[]")
        for config in (network.get("IPAM") or {}).get("Config") or []
        if ":" not in config.get("Subnet", ":")
    ]
    for index in range(200, 64, -1):
        candidate = ipaddress.ip_network(f"10.{index}.0.0/16")
        if not any(candidate.overlaps(t) for t in taken):
            return str(candidate)
    raise SystemExit("no free 10.x.0.0/16 for the bench's networks")


def run(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd)
    if done.returncode:
        raise SystemExit(f"{' '.join(argv[:4])} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def write_site(work: Path, pad_port: int) -> Path:
    ente = {"api_port": free_port(), "auth_port": free_port(), "s3_port": free_port()}
    etherpad = {
        "port": pad_port,
        "database": "mariadb",
        "api_auth": "apikey",
        "layout": "hosts",
        "whiteboard": False,
    }
    lines = [
        'domain = "bench.lan"',
        f'name_prefix = "{PREFIX}"',
        f'stacks_root = "{work}/stacks"',
        f'data_root = "{work}/data"',
        f'proxy_root = "{work}/proxyroot"',
        f'subnet_pool = ["{free_pool()}"]',
        "[stacks.ente]\nenabled = true",
        'cli_image = "stackctl-test/ente-cli-standin:latest"',
        *(f"{k} = {v}" for k, v in ente.items()),
        "[stacks.etherpad]\nenabled = true",
        *(f"{k} = {json.dumps(v)}" for k, v in etherpad.items()),
        "[images]",
        *(f'"{k}" = "{v}"' for k, v in IMAGES.items()),
    ]
    config = work / "stackctl.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def put_data(work: Path, pad_port: int, rows: int, file_mb: int) -> None:
    sql = (
        "CREATE TABLE probe (id int PRIMARY KEY, note text); "
        f"INSERT INTO probe SELECT g, md5(g::text) FROM generate_series(1, {rows}) g"
    )
    script = f'psql -qtA -U "$POSTGRES_USER" -d "$POSTGRES_DB" -c "{sql}"'
    run(["docker", "exec", f"{PREFIX}ente-postgres", "sh", "-c", script])
    with (work / "data" / "ente" / "museum-data" / "bench.bin").open("wb") as out:
        for _ in range(file_mb):
            out.write(os.urandom(1 << 20))
    key = (work / "stacks" / "docker-etherpad" / "APIKEY.txt").read_text()
    for index in range(20):
        query = urllib.parse.urlencode(
            {"apikey": key, "padID": f"bench-{index}", "text": f"pad {index}\n" * 200}
        )
        url = f"http://127.0.0.1:{pad_port}/api/1.2.13/createPad?{query}"
        with urllib.request.urlopen(url, timeout=30) as reply:
            assert json.load(reply)["code"] == 0


def count_back(pad_port: int, work: Path) -> str:
    script = 'psql -qtA -U "$POSTGRES_USER" -d "$POSTGRES_DB" -c "SELECT count(*) FROM probe"'
    rows = run(["docker", "exec", f"{PREFIX}ente-postgres", "sh", "-c", script]).strip()
    key = (work / "stacks" / "docker-etherpad" / "APIKEY.txt").read_text()
    url = f"http://127.0.0.1:{pad_port}/api/1.2.13/listAllPads?apikey={key}"
    with urllib.request.urlopen(url, timeout=30) as reply:
        pads = len(json.load(reply)["data"]["padIDs"])
    return f"{rows} rows, {pads} pads"


def destroy(work: Path, config: Path, keep_config: bool = False) -> None:
    """Everything of the bench's stacks, found by the bench's own prefix and folders."""
    for stack in STACKS:
        project = f"{PREFIX}{stack}"
        label = f"label=com.docker.compose.project={project}"
        for container in run(["docker", "ps", "-aq", "--filter", label]).split():
            subprocess.run(["docker", "rm", "-f", container], capture_output=True)
        for volume in run(["docker", "volume", "ls", "-q", "--filter", label]).split():
            subprocess.run(["docker", "volume", "rm", "-f", volume], capture_output=True)
        subprocess.run(["docker", "network", "rm", f"{project}.lan"], capture_output=True)
    for folder in ("stacks", "data", "proxyroot"):
        shutil.rmtree(work / folder, ignore_errors=True)
    if not keep_config:
        config.unlink(missing_ok=True)


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    run(argv, env, cwd)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000, help="rows in Ente's Postgres")
    parser.add_argument("--file-mb", type=int, default=50, help="MB in Ente's data folder")
    parser.add_argument("--runs", type=int, default=3, help="restore cycles of each kind")
    parser.add_argument("--stackctl", default=shutil.which("stackctl") or "stackctl")
    args = parser.parse_args()
    stackctl = os.path.abspath(args.stackctl)
    with tempfile.TemporaryDirectory(dir="/var/tmp") as folder:
        work = Path(folder)
        pad_port = free_port()
        config = write_site(work, pad_port)
        env = {**os.environ, "STACKCTL_CONFIG": str(config)}
        archive = work / "backups" / "two.tar.zst.age"
        passphrase = work / "pw"
        passphrase.write_text(PASSPHRASE + "\n")
        secret = ["--passphrase-file", str(passphrase)]
        try:
            first = timed([stackctl, "deploy", "--all"], env, work)
            put_data(work, pad_port, args.rows, args.file_mb)
            wrote = timed([stackctl, "backup", *STACKS, *secret, "-o", str(archive)], env, work)
            size = archive.stat().st_size

            separate: list[tuple[float, float]] = []
            together: list[float] = []
            for _ in range(args.runs):  # interleaved, so load on the machine hits both alike
                destroy(work, config)
                restore = timed([stackctl, "restore", str(archive), *secret], env, work)
                deploy = timed([stackctl, "deploy", "--all"], env, work)
                separate.append((restore, deploy))
                back = count_back(pad_port, work)
                destroy(work, config)
                one_command = [stackctl, "restore", str(archive), *secret, "--deploy"]
                together.append(timed(one_command, env, work))
                assert count_back(pad_port, work) == back, "restore --deploy brought back less"
        finally:
            destroy(work, config)
    restore = statistics.median(r for r, _ in separate)
    deploy = statistics.median(d for _, d in separate)
    both = statistics.median(together)
    print(f"Ente + Etherpad/MariaDB, {args.rows} rows, {args.file_mb} MB file, 20 pads")
    print(f"  back after each restore: {back}; medians of {args.runs}")
    print(f"  archive                          {size / 1e6:8.1f} MB, written in {wrote:5.1f} s")
    print(f"  first deploy (nothing restored)  {first:8.1f} s")
    print(f"  restore alone                    {restore:8.1f} s")
    print(f"  deploy alone (loads the dumps)   {deploy:8.1f} s")
    print(
        f"  restore --deploy                 {both:8.1f} s   (each: {', '.join(f'{t:.1f}' for t in together)})"
    )
    print(f"  ratio restore --deploy / first deploy     {both / first:5.2f}")
    print(f"  ratio (restore + deploy) / first deploy   {(restore + deploy) / first:5.2f}")


if __name__ == "__main__":
    main()
