"""A no-op `stackctl deploy --all` of several recipes as a ratio to ONE no-op
`docker compose up -d`, measured in one run, the two interleaved so load hits each alike.

The stacks run on the local test images (tests/images/build.sh) under a throw-away site
whose name_prefix keeps them apart from any real stack; everything is removed after.
Every shipped recipe with test images is in by default; Collabora has none (collabora/code
cannot be built here). Target: ratio <= 1.0.

Several --stackctl (a before and an after build, say) are measured in one run on the same
stacks, one after the other, each against its own interleaved compose runs; each gets one
untimed deploy first, as a build may record what it skips on the next no-op.

Usage: python bench/deploy_all.py [--runs N] [--stackctl PATH ...] [--stacks ente,jellyfin,...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = {
    "ghcr.io/ente/server": "stackctl-test/museum-standin:latest",
    "ghcr.io/ente/web": "stackctl-test/ente-web-standin:latest",
    "quay.io/minio/minio": "stackctl-test/minio-standin:latest",
    "alpine/socat": "stackctl-test/socat:latest",
    "postgres": "stackctl-test/postgres:15",
    "redis": "stackctl-test/redis:7",
    "jellyfin/jellyfin": "stackctl-test/jellyfin-standin:latest",
    "ghcr.io/mastodon/mastodon": "stackctl-test/mastodon-standin",
    "ghcr.io/mastodon/mastodon-streaming": "stackctl-test/mastodon-standin",
    "etherpad/etherpad": "stackctl-test/etherpad:2.5.3",
    "lovasoa/wbo": "stackctl-test/wbo:2.17.0",
    "mariadb": "stackctl-test/mariadb:10.11",
    "ghcr.io/element-hq/matrix-authentication-service": "stackctl-test/mas-standin:latest",
    "matrixdotorg/synapse": "stackctl-test/synapse",  # the recipe's tag is kept
}
PORTS = {
    "ente": ["api_port", "auth_port", "s3_port"],
    "jellyfin": ["http_port"],
    "mastodon": ["web_port", "streaming_port", "redis_port"],
    "greeter": ["port"],
    "etherpad": ["port", "wbo_port"],
    "mas": ["port", "health_port", "synapse_port"],
}
EXTRA = {
    "mastodon": {"version": "v4.7.2", "local_domain": "bench.lan"},
    "etherpad": {"api_auth": "apikey"},  # the default (sso) needs the site's [sso]
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_site(work: Path, stacks: list[str]) -> Path:
    config = work / "stackctl.toml"
    lines = [
        'domain = "bench.lan"',
        'name_prefix = "bench"',
        f'stacks_root = "{work}/stacks"',
        f'data_root = "{work}/data"',
        f'proxy_root = "{work}/proxyroot"',
        'subnet_pool = ["10.219.0.0/16"]',
        f'recipe_paths = ["{ROOT}/docs/recipes/example"]',
        '[mail]\nrelay_host = "mail.bench.lan"',
    ]
    for stack in stacks:
        lines.append(f"[stacks.{stack}]\nenabled = true")
        lines += [f"{key} = {free_port()}" for key in PORTS[stack]]
        lines += [f"{k} = {json.dumps(v)}" for k, v in EXTRA.get(stack, {}).items()]
    lines.append("[images]")
    lines += [f'"{k}" = "{v}"' for k, v in IMAGES.items()]
    config.write_text("\n".join(lines) + "\n")
    return config


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env, cwd=cwd)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stackctl", action="append", help="repeat to compare builds")
    parser.add_argument("--stacks", default="ente,jellyfin,mastodon,etherpad,mas,greeter")
    args = parser.parse_args()
    builds = [
        os.path.abspath(shutil.which(s) or s)
        for s in args.stackctl or [shutil.which("stackctl") or "stackctl"]
    ]
    stackctl = builds[-1]
    stacks = args.stacks.split(",")
    subprocess.run(
        ["docker", "tag", IMAGES["ghcr.io/mastodon/mastodon"] + ":latest",
         IMAGES["ghcr.io/mastodon/mastodon"] + ":v4.7.2"],
        check=False, capture_output=True,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        env = {**os.environ, "STACKCTL_CONFIG": str(write_site(work, stacks))}
        try:
            first = subprocess.run(
                [stackctl, "deploy", "--all"], capture_output=True, text=True, env=env, cwd=work
            )
            if first.returncode:
                raise SystemExit(f"the first deploy failed:\n{first.stderr}")
            compose_dir = work / "stacks" / f"docker-{stacks[0]}"
            figures = []
            for build in builds:
                subprocess.run([build, "deploy", "--all"], capture_output=True, env=env, cwd=work)
                compose, ours = [], []
                for _ in range(args.runs):
                    compose.append(timed(["docker", "compose", "up", "-d"], env, compose_dir))
                    ours.append(timed([build, "deploy", "--all"], env, work))
                figures.append((build, statistics.median(compose), statistics.median(ours)))
            check = subprocess.run(
                [stackctl, "deploy", "--all", "--json"],
                capture_output=True,
                text=True,
                env=env,
                cwd=work,
            )
            reports = json.loads(check.stdout[check.stdout.index("\n[") :])
            changed = [r["stack"] for r in reports if r["changed"]]
        finally:
            subprocess.run([stackctl, "down", "--all"], capture_output=True, env=env, cwd=work)
            for state in (work / "stacks").glob("docker-*/.stackctl/state.json"):
                network = json.loads(state.read_text()).get("network", {}).get("name")
                if network:
                    subprocess.run(["docker", "network", "rm", network], capture_output=True)
    print(f"stacks: {', '.join(stacks)}; medians of {args.runs}")
    for build, a, b in figures:
        ratio = b / a
        print(build)
        print(f"  docker compose up -d, one stack (no-op)   {a:7.3f} s")
        print(f"  stackctl deploy --all, {len(stacks)} stacks (no-op)  {b:7.3f} s")
        print(f"  ratio {ratio:5.2f}  (target <= 1.0: {'met' if ratio <= 1.0 else 'NOT met'})")
    if changed:
        print(f"warning: the last deploy changed {', '.join(changed)}: not a no-op")


if __name__ == "__main__":
    main()
