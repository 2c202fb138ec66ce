"""Start-up time of `stackctl --help` as a ratio to `docker compose version`, measured in one run.

Target: <= 1.5. Usage: python bench/startup.py [--runs N] [--stackctl PATH]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import time


def timed(argv: list[str], runs: int) -> float:
    subprocess.run(argv, capture_output=True, check=True)  # warm the page cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--stackctl", default=shutil.which("stackctl") or "stackctl")
    args = parser.parse_args()
    ours = timed([args.stackctl, "--help"], args.runs)
    theirs = timed(["docker", "compose", "version"], args.runs)
    ratio = ours / theirs
    print(f"stackctl --help          {ours * 1000:7.1f} ms (median of {args.runs})")
    print(f"docker compose version   {theirs * 1000:7.1f} ms")
    print(
        f"ratio                    {ratio:7.2f}  (target <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
