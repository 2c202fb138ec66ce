"""Start-up of stackctl's engine-free commands as a ratio to `docker compose version`, measured
in one run, the commands interleaved so machine load hits each alike.

Targets: `--help` <= 1.5x; every other command here <= 2x: the ones a user runs often that
need no engine (`plan` and `host-snippets` ask one for its networks when it answers).
The commands run against a throw-away site (a temporary stackctl.toml and stacks folder), so
the bench never reads or writes a real server's stacks; `secrets gen ente --dry-run` runs on a
stack whose secrets are all there already.

Modules are compiled first, as pip compiles a wheel's at install (this environment may set
PYTHONDONTWRITEBYTECODE, and a checkout may hold stale or no bytecode): the figure is the start-up
an installed user sees, not the cost of compiling stackctl on every run.

Several --stackctl (a before and an after build, say) are measured in the same interleaved run.

Usage: python bench/startup.py [--runs N] [--stackctl PATH ...] [--only NAME ...]
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

# {recipe} is the shipped ente recipe folder of the build measured
TARGETS = {
    "--help": 1.5,
    "recipes": 2.0,
    "plan ente": 2.0,
    "secrets show ente": 2.0,
    "config": 2.0,
    "proxy ente --dialect nginx": 2.0,
    "host-snippets ente": 2.0,
    "recipes check {recipe}": 2.0,
    "secrets gen ente --dry-run": 2.0,
}
BASE = "docker compose version"


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


def compile_like_pip(stackctl: str) -> Path:
    """Compile the package (and the recipe folders, inside it in a wheel) with the
    interpreter the console script runs; the ente recipe folder of that build."""
    with open(stackctl, encoding="utf-8", errors="replace") as script:
        first = script.readline()
    interpreter = first[2:].strip() if first.startswith("#!") else sys.executable
    code = (
        "import compileall, stackctl.paths as p\n"
        "for folder in (p._PACKAGE, p.stacks_dir()):\n"
        "    compileall.compile_dir(str(folder), quiet=1)\n"
        "print(p.stacks_dir() / 'ente')\n"
    )
    done = subprocess.run([interpreter, "-c", code], check=True, capture_output=True, text=True)
    return Path(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--stackctl", action="append", help="repeat to compare builds")
    parser.add_argument("--only", action="append", help="measure only these commands")
    args = parser.parse_args()
    builds = args.stackctl or [shutil.which("stackctl") or "stackctl"]
    targets = {n: t for n, t in TARGETS.items() if not args.only or n in args.only}
    with tempfile.TemporaryDirectory(prefix="stackctl-bench-") as folder:
        env = make_site(Path(folder))
        commands = {BASE: BASE.split()}
        for index, build in enumerate(builds):
            recipe = compile_like_pip(build)
            subprocess.run(
                [build, "secrets", "gen", "ente"], env=env, check=True, capture_output=True
            )
            for name in targets:
                argv = name.format(recipe=recipe).split()
                commands[_label(name, index, builds)] = [build, *argv]
        for argv in commands.values():  # warm the page cache and the CLI caches
            subprocess.run(argv, env=env, capture_output=True, check=True)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                start = time.perf_counter()
                subprocess.run(argv, env=env, capture_output=True, check=True)
                samples[name].append(time.perf_counter() - start)
    base = statistics.median(samples[BASE])
    least = min(samples[BASE])
    print(f"{BASE:24} {base * 1000:7.1f} ms median, {least * 1000:.1f} min (of {args.runs})")
    missed = 0
    for index, build in enumerate(builds):
        if len(builds) > 1:
            print(f"[{index}] {build}")
        for name, target in targets.items():
            took = statistics.median(samples[_label(name, index, builds)])
            ratio = took / base
            verdict = "met" if ratio <= target else "NOT met"
            missed += ratio > target and index == len(builds) - 1
            best = min(samples[_label(name, index, builds)]) / least
            print(
                f"  stackctl {name:28} {took * 1000:7.1f} ms  ratio {ratio:5.2f} (of the minima "
                f"{best:4.2f})  (target <= {target}: {verdict})"
            )
    sys.exit(1 if missed else 0)


def _label(name: str, index: int, builds: list[str]) -> str:
    return f"[{index}] {name}" if len(builds) > 1 else name


if __name__ == "__main__":
    main()
