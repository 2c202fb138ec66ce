"""`stackctl logs --grep` throughput as a ratio to `docker logs | grep`, measured in one run.

Starts a throw-away container named like a stack service (ente-museum) that writes
museum-style coloured log lines, then greps its log both ways. Target: ratio >= 0.9.
Usage: python bench/logs.py [--lines N] [--runs N] [--stackctl PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

CONTAINER = "ente-museum"
IMAGE = "stackctl-test/debian:bookworm"
PATTERN = "SendEmailOTT"
# one matching line in a hundred, like a busy museum log
SCRIPT = r"""
i=0
while [ $i -lt {n} ]; do
  j=0
  while [ $j -lt 99 ]; do
    printf '\033[36mINFO\033[0m[%04d]request_logger.go:119 func5 outgoing \033[36mreq_method\033[0m=GET \033[36mreq_uri\033[0m=/collections/v2/diff \033[36mstatus_code\033[0m=200 \033[36muser_id\033[0m=5551234567654321\n' $i
    j=$((j+1))
  done
  printf '\033[36mINFO\033[0m[%04d]userauth.go:159 SendEmailOTT Added hard coded ott for me@home.lan : 123456\n' $i
  i=$((i+1))
done
"""


def timed(command: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(["bash", "-c", command], check=True, stdout=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stackctl", default=shutil.which("stackctl") or "stackctl")
    args = parser.parse_args()
    if subprocess.run(["docker", "inspect", CONTAINER], capture_output=True).returncode == 0:
        raise SystemExit(
            f"a container named {CONTAINER} exists; run this bench on a machine without an Ente stack"
        )
    with tempfile.TemporaryDirectory() as work:
        config = os.path.join(work, "stackctl.toml")
        with open(config, "w") as handle:
            handle.write(f'stacks_root = "{work}"\ndata_root = "{work}/data"\n')
        subprocess.run(
            [
                "docker",
                "run",
                "--name",
                CONTAINER,
                IMAGE,
                "sh",
                "-c",
                SCRIPT.format(n=args.lines // 100),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        try:
            size = len(
                subprocess.run(
                    ["docker", "logs", CONTAINER], capture_output=True, check=True
                ).stdout
            )
            pipeline = timed(f"docker logs {CONTAINER} 2>&1 | grep {PATTERN}", args.runs)
            ours = timed(
                f"STACKCTL_CONFIG={config} {args.stackctl} logs ente museum --grep {PATTERN}",
                args.runs,
            )
        finally:
            subprocess.run(["docker", "rm", "-f", CONTAINER], capture_output=True)
    mb = size / 1e6
    print(f"log size                     {mb:8.1f} MB ({args.lines} lines)")
    print(f"docker logs | grep           {pipeline:8.3f} s  {mb / pipeline:7.1f} MB/s")
    print(f"stackctl logs --grep         {ours:8.3f} s  {mb / ours:7.1f} MB/s")
    ratio = pipeline / ours
    print(
        f"throughput ratio             {ratio:8.2f}  (target >= 0.9: {'met' if ratio >= 0.9 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
