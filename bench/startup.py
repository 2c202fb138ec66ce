"""Start-up of stackctl's engine-free commands as a ratio to `docker compose version`, measured
in one run, the commands interleaved so machine load hits each alike.

Targets: `--help` <= 1.5x; `recipes`, `plan ente`, `secrets show ente` <= 2x.
The commands run against a throw-away site (a temporary stackctl.toml and stacks folder), so
the bench never reads or writes a real server's stacks.

Modules are compiled first, as pip compiles a wheel's at install (this environment may set
PYTHONDONTWRITEBYTECODE, and a checkout may hold stale or no bytecode): the figure is the start-up
an installed user sees, not the cost of compiling stackctl on every run.

Usage: python bench/startup.py [--runs N] [--stackctl PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"--help": 1.5, "recipes": 2.0, "plan ente": 2.0, "secrets show ente": 2.0}


def make_site(root: Path) -> dict[str, str]:
    config = root / "stackctl.toml"
    config.write_text(
        'domain = "bench.lan"\n'
        f'data_root = "{root}/data"\n'
        f'stacks_root = "{root}/stacks"\n'
        f'proxy_root = "{root}/proxyroot"\n'
        'subnet_pool = ["10.231.0.0/16"]\n'
    )
    env = {**os.environ, "STACKCTL_CONFIG": str(config), "XDG_CACHE_HOME": str(root / "cache")}
    # as installed from a wheel: modules compiled once, not on every start
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def compile_like_pip(stackctl: str) -> None:
    """Compile the package (and the recipe folders, inside it in a wheel) with the
    interpreter the console script runs."""
    with open(stackctl, encoding="utf-8", errors="replace") as script:
        first = script.readline()
    interpreter = first[2:].strip() if first.startswith("#!") else sys.executable
    code = (
        "import compileall, stackctl.paths as p\n"
        "for folder in (p._PACKAGE, p.stacks_dir()):\n"
        "    compileall.compile_dir(str(folder), quiet=1)\n"
    )
    subprocess.run([interpreter, "-c", code], check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--stackctl", default=shutil.which("stackctl") or "stackctl")
    args = parser.parse_args()
    compile_like_pip(args.stackctl)
    with tempfile.TemporaryDirectory(prefix="stackctl-bench-") as folder:
        env = make_site(Path(folder))
        subprocess.run(
            [args.stackctl, "secrets", "gen", "ente"], env=env, check=True, capture_output=True
        )
        commands = {"docker compose version": ["docker", "compose", "version"]}
        commands |= {name: [args.stackctl, *name.split()] for name in TARGETS}
        for argv in commands.values():  # warm the page cache and the help cache
            subprocess.run(argv, env=env, capture_output=True, check=True)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                start = time.perf_counter()
                subprocess.run(argv, env=env, capture_output=True, check=True)
                samples[name].append(time.perf_counter() - start)
    base = statistics.median(samples["docker compose version"])
    least = min(samples["docker compose version"])
    print(
        f"{'docker compose version':24} {base * 1000:7.1f} ms median, {least * 1000:.1f} min "
        f"(of {args.runs})"
    )
    missed = 0
    for name, target in TARGETS.items():
        took = statistics.median(samples[name])
        ratio = took / base
        verdict = "met" if ratio <= target else "NOT met"
        missed += ratio > target
        best = min(samples[name]) / least
        print(
            f"stackctl {name:15} {took * 1000:7.1f} ms  ratio {ratio:5.2f} (of the minima "
            f"{best:4.2f})  (target <= {target}: {verdict})"
        )
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
