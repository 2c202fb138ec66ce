"""The disk faults of test_filesystem_corpus, made by the kernel rather than by a patched `open`:
the world's stacks folder on a read-only or full tmpfs, and immutable files (chattr +i).
Each needs root and a kernel that lets it mount or set the flag; otherwise it is skipped with
the kernel's answer."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# What each command needs to write, in the pristine world (Ente and Mastodon deployed).
WRITERS = {
    "render a new stack": ["render", "collabora"],
    "secrets for a new stack": ["secrets", "gen", "jellyfin"],
    "rotate": ["secrets", "rotate", "--force", "ente", "ENTE_JWT_SECRET"],
    "render a change": ["render", "ente"],
}


def _prepare(world: Path, command: str) -> None:
    if command == "render a change":
        text = (world / "stackctl.toml").read_text()
        (world / "stackctl.toml").write_text(text + "[stacks.ente]\napi_port = 8181\n")


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True)


@pytest.fixture
def stacks_on_tmpfs(world: Path) -> Iterator[Callable[[str], None]]:
    """Put world/stacks on its own tmpfs; the returned function remounts it with options."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    stacks = world / "stacks"
    held = world.with_name("stacks-held")
    shutil.rmtree(held, ignore_errors=True)
    shutil.copytree(stacks, held, symlinks=True)
    mounted = _run("mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(stacks))
    if mounted.returncode != 0:
        pytest.skip(f"the kernel refused a tmpfs: {mounted.stderr.strip()}")
    try:
        shutil.copytree(held, stacks, symlinks=True, dirs_exist_ok=True)
        os.chmod(stacks, os.stat(held).st_mode & 0o7777)

        def remount(options: str) -> None:
            done = _run("mount", "-o", f"remount,{options}", str(stacks))
            if done.returncode != 0:
                pytest.skip(f"the kernel refused remount,{options}: {done.stderr.strip()}")

        yield remount
    finally:
        _run("umount", str(stacks))
        shutil.rmtree(held, ignore_errors=True)


@pytest.mark.parametrize("command", list(WRITERS))
def test_a_read_only_filesystem(world, refuses, stacks_on_tmpfs, command):
    _prepare(world, command)
    stacks_on_tmpfs("ro")
    outcome = refuses(*WRITERS[command])
    assert "read-only" in outcome.stderr.lower() and str(world) in outcome.errors[0]


def _fill(folder: Path) -> None:
    """Write until the filesystem is full (the filler is part of the tree the test compares)."""
    handle = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 512, 1):  # large blocks, then the last few bytes
            try:
                while True:
                    os.write(handle, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(handle)


# A full disk still has inodes: a new stack's folder and its lock file can be made before the
# first write fails. They stay (removing a lock file another command may be waiting on would
# let two commands hold it); they hold no data and the next run uses them.
NEW_STACK_LOCK = {
    "render a new stack": "docker-collabora",
    "secrets for a new stack": "docker-jellyfin",
}


@pytest.mark.parametrize("command", list(WRITERS))
def test_a_full_disk(world, refuses, stacks_on_tmpfs, command):
    _prepare(world, command)
    _fill(world / "stacks")
    folder = NEW_STACK_LOCK.get(command)
    lock = (f"stacks/{folder}", f"stacks/{folder}/.stackctl", f"stacks/{folder}/.stackctl/lock")
    outcome = refuses(*WRITERS[command], may_add=lock if folder else ())
    assert "no space" in outcome.stderr.lower() and str(world) in outcome.errors[0]


# Immutable (chattr +i): the file cannot be written, replaced or removed; for a folder,
# nothing can be created or removed in it.
IMMUTABLE = {
    "the compose file on a change": ("stacks/docker-ente/docker-compose.yml", "render a change"),
    "the stacks folder for a new stack": ("stacks", "render a new stack"),
    "the stacks folder for new secrets": ("stacks", "secrets for a new stack"),
    "the stack folder on rotate": ("stacks/docker-ente", "rotate"),
}


@pytest.fixture
def immutable(world: Path) -> Iterator[Callable[[Path], None]]:
    marked: list[Path] = []

    def mark(path: Path) -> None:
        done = _run("chattr", "+i", str(path))
        if done.returncode != 0:
            pytest.skip(f"chattr +i refused: {done.stderr.strip() or 'chattr not installed'}")
        marked.append(path)

    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed (e2fsprogs)")
    try:
        yield mark
    finally:
        for path in marked:
            _run("chattr", "-i", str(path))


@pytest.mark.parametrize("case", list(IMMUTABLE))
def test_an_immutable_path(world, refuses, immutable, case):
    relative, command = IMMUTABLE[case]
    _prepare(world, command)
    immutable(world / relative)
    outcome = refuses(*WRITERS[command])
    assert str(world) in outcome.errors[0]
