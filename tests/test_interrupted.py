"""A run killed at any write or rename leaves no false conflict and no temp file behind.

Each round copies a rendered stack, changes a setting, and runs `stackctl render` in a
child process that dies (os._exit, no clean-up) at the Nth fsync or rename, before or
after it. The next render, with yet another setting, must then finish, find no conflict,
and leave no temp file, until a round runs to its end without dying.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stackctl.files import digest

ROOT = Path(__file__).resolve().parents[1]
KILLER = """
import os, sys
limit, count = int(sys.argv[1]), 0
real_replace, real_fsync = os.replace, os.fsync

def point():
    global count
    count += 1
    if count == limit:
        os._exit(99)

def replace(src, dst):
    point()
    real_replace(src, dst)
    point()

def fsync(fd):
    real_fsync(fd)
    point()

os.replace, os.fsync = replace, fsync
sys.argv = ["stackctl", "render", "ente"]
from stackctl.cli import main
main()
"""
TEMP_NAMES = ("*.stackctl-tmp", ".env.*.tmp", "tmp*.tmp")


def configure(site: Path, api_port: int) -> None:
    text = (site / "stackctl.toml").read_text().split("[stacks.ente]")[0]
    (site / "stackctl.toml").write_text(text + f"[stacks.ente]\napi_port = {api_port}\n")


def temp_files(root: Path) -> list[Path]:
    return [p for pattern in TEMP_NAMES for p in root.rglob(pattern)]


@pytest.fixture
def rendered(site_file, run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site_file()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    configure(tmp_path, 18001)
    assert run_cli("render", "ente").exit_code == 0
    return tmp_path


def test_a_kill_at_any_write_leaves_no_false_conflict_and_no_debris(rendered, run_cli):
    baseline = rendered / "baseline"
    shutil.copytree(rendered / "stacks", baseline)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rounds = 0
    for limit in range(1, 200):
        shutil.rmtree(rendered / "stacks")
        shutil.copytree(baseline, rendered / "stacks")
        stack = rendered / "stacks" / "docker-ente"
        # one secret is missing, so the run writes .env too
        env_file = stack / ".env"
        lines = env_file.read_text().splitlines(keepends=True)
        env_file.write_text("".join(x for x in lines if not x.startswith("ENTE_JWT_SECRET=")))
        configure(rendered, 18002)
        killed = subprocess.run(
            [sys.executable, "-c", KILLER, str(limit)],
            cwd=rendered,
            env=env,
            capture_output=True,
            text=True,
        )
        configure(rendered, 18003)
        after = run_cli("render", "ente")
        assert after.exit_code == 0, (limit, after.stderr)
        assert temp_files(rendered / "stacks") == [], limit
        compose = (stack / "docker-compose.yml").read_text()
        assert "18003" in compose and "18002" not in compose, limit
        state = (stack / ".stackctl" / "state.json").read_text()
        assert digest(compose) in state and not (stack / ".stackctl" / "pending.json").exists()
        rounds += 1
        if killed.returncode == 0:
            break
        assert killed.returncode == 99, killed.stderr
    else:
        pytest.fail("the render never ran to its end")
    assert rounds > 10  # every fsync and rename of .env, the journal, four files and state
