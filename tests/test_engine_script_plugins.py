"""scripts/lib/engine.sh links the docker CLI plugins Debian installs, and nothing else from
their folders: a package manager's leftover next to a plugin must not become a `docker` command."""

from __future__ import annotations

import subprocess
from pathlib import Path

ENGINE_SH = Path(__file__).parent.parent / "scripts" / "lib" / "engine.sh"

PLUGINS = ("docker-compose", "docker-buildx")
NOT_PLUGINS = (
    "docker-compose.dpkg-old",
    "docker-compose.dpkg-dist",
    "docker-compose~",
    "docker-buildx.bak",
    "docker-compose-old",
    "docker-Compose",
    "docker-",
)


def link_plugins(sources: list[Path], target: Path) -> subprocess.CompletedProcess[str]:
    """engine_link_plugins in bash, with the folders moved under tmp_path, no root needed, and
    a `docker` whose compose is not v2 (so that the function links at all)."""
    script = f"""
source {ENGINE_SH}
ENGINE_PLUGIN_DIR={target}
ENGINE_PLUGIN_SOURCE_DIRS=({" ".join(str(s) for s in sources)})
engine_sudo() {{ "$@"; }}
docker() {{ return 1; }}
engine_link_plugins
"""
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)


def executable(path: Path, mode: int = 0o755) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(mode)
    return path


def test_only_executable_files_with_a_plugin_name_are_linked(tmp_path):
    libexec, lib = tmp_path / "libexec", tmp_path / "lib"
    libexec.mkdir()
    lib.mkdir()
    executable(libexec / PLUGINS[0])
    executable(lib / PLUGINS[1])
    for name in NOT_PLUGINS:
        executable(libexec / name)
    executable(lib / "docker-scan", 0o644)  # a plugin's name, but not executable
    (lib / "docker-dir").mkdir(mode=0o755)  # executable bit, but a folder
    target = tmp_path / "local"

    done = link_plugins([libexec, lib, tmp_path / "absent"], target)

    assert done.returncode == 0, done.stderr
    linked = {p.name: p.readlink() for p in target.iterdir()}
    assert linked == {PLUGINS[0]: libexec / PLUGINS[0], PLUGINS[1]: lib / PLUGINS[1]}
    assert "linked docker CLI plugins" in done.stderr


def test_nothing_is_linked_when_no_folder_holds_a_plugin(tmp_path):
    libexec = tmp_path / "libexec"
    libexec.mkdir()
    executable(libexec / "docker-compose.dpkg-old")
    target = tmp_path / "local"

    done = link_plugins([libexec], target)

    assert done.returncode == 0, done.stderr
    assert not target.exists() or not list(target.iterdir())
    assert "linked" not in done.stderr
