"""The built wheel (not an editable install) carries stacks/ and templates/ and works on its own."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.wheel


def test_wheel_installs_a_working_stackctl(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        check=True,
    )
    wheel = next(dist.glob("stackctl-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([venv / "bin" / "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    # reuse this environment's dependencies (appended after the venv's own site-packages,
    # so stackctl itself still comes from the wheel)
    site_packages = next((venv / "lib").glob("python3*/site-packages"))
    (site_packages / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "stackctl.toml").write_text(
        f'stacks_root = "{work}/stacks"\ndata_root = "{work}/data"\n'
    )
    env = {"PATH": f"{venv}/bin:/usr/bin:/bin", "HOME": str(tmp_path)}

    def stackctl(*args: str) -> str:
        done = subprocess.run(
            [venv / "bin" / "stackctl", *args], cwd=work, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    location = subprocess.run(
        [venv / "bin" / "python", "-c", "import stackctl.paths as p; print(p.stacks_dir())"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "site-packages/stackctl/_data/stacks" in location
    assert "ente" in stackctl("recipes")
    stackctl("secrets", "gen", "ente")
    stackctl("render", "ente")
    assert (work / "stacks" / "docker-ente" / "museum.yaml").is_file()
    assert "init" in stackctl("--help")
