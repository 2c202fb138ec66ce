"""A no-op `stackctl deploy` as a ratio to a no-op `docker compose up -d`, in one run.

Deploys the Ente recipe onto the local test images (tests/images/build.sh) in a temporary
folder, then times redeploying the unchanged stack both ways. Target: ratio <= 1.2.
Usage: python bench/redeploy.py [--runs N] [--stackctl PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

IMAGES = {
    "ghcr.io/ente/server": "stackctl-test/museum-standin:latest",
    "ghcr.io/ente/web": "stackctl-test/ente-web-standin:latest",
    "quay.io/minio/minio": "stackctl-test/minio-standin:latest",
    "alpine/socat": "stackctl-test/socat:latest",
    "postgres": "stackctl-test/postgres:15",
}


def timed(argv: list[str], runs: int, env: dict[str, str], cwd: str) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env, cwd=cwd)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stackctl", default=shutil.which("stackctl") or "stackctl")
    args = parser.parse_args()
    args.stackctl = os.path.abspath(shutil.which(args.stackctl) or args.stackctl)
    if subprocess.run(["docker", "inspect", "ente-museum"], capture_output=True).returncode == 0:
        raise SystemExit("an Ente stack is running here; run this bench on a machine without one")
    with tempfile.TemporaryDirectory() as work:
        config = os.path.join(work, "stackctl.toml")
        with open(config, "w") as handle:
            handle.write(
                f'stacks_root = "{work}"\ndata_root = "{work}/data"\nsubnet_pool = ["10.219.0.0/16"]\n'
            )
            handle.write(
                "[stacks.ente]\napi_port = 28180\nauth_port = 23322\ns3_port = 23200\n[images]\n"
            )
            handle.writelines(f'"{k}" = "{v}"\n' for k, v in IMAGES.items())
        env = {**os.environ, "STACKCTL_CONFIG": config}
        stack_dir = os.path.join(work, "docker-ente")
        try:
            subprocess.run(
                [args.stackctl, "deploy", "ente"], check=True, capture_output=True, env=env
            )
            compose = timed(["docker", "compose", "up", "-d"], args.runs, env, stack_dir)
            ours = timed([args.stackctl, "deploy", "ente"], args.runs, env, work)
        finally:
            subprocess.run(
                ["docker", "compose", "down", "--timeout", "5"], capture_output=True, cwd=stack_dir
            )
            subprocess.run(["docker", "network", "rm", "ente.lan"], capture_output=True)
    ratio = ours / compose
    print(f"docker compose up -d (no-op)   {compose:7.3f} s (median of {args.runs})")
    print(f"stackctl deploy (no-op)        {ours:7.3f} s")
    print(
        f"ratio                          {ratio:7.2f}  (target <= 1.2: {'met' if ratio <= 1.2 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
