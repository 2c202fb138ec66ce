"""Locks that keep two stackctl commands from changing the same thing at once.

Every command that changes a stack holds that stack's lock (<stack dir>/.stackctl/lock)
for its whole run and reads state and .env only inside it, so a read-modify-write never
loses another command's update. Network allocation reads every other stack's state, so it
also holds the site lock (<stacks_root>/.stackctl-site.lock).

Order, to rule out deadlocks: a stack lock first, then the site lock; never a stack lock
while holding the site lock, and never two stack locks at once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from stackctl.errors import StackctlError

if TYPE_CHECKING:
    from stackctl.settings import Site

STACK_LOCK = Path(".stackctl") / "lock"
SITE_LOCK = ".stackctl-site.lock"
HOLDER_SUFFIX = ".holder"  # beside the lock: who holds it, for the message of those who wait

# Locks this process holds: a command that calls another part taking the same lock goes on.
_held: dict[Path, int] = {}


class LockTimeout(StackctlError):
    """Another stackctl command held a lock for longer than lock_timeout."""

    exit_code = 75  # EX_TEMPFAIL: run it again later


def stack_lock_path(site: Site, stack: str) -> Path:
    return site.stack_dir(stack) / STACK_LOCK


def site_lock_path(site: Site) -> Path:
    return Path(site.stacks_root) / SITE_LOCK


def file_lock_path(target: Path) -> Path:
    """The lock for a file outside any stack (the stackctl.toml `init` writes): kept in the
    temp folder, so the user's folder gets no lock file."""
    import hashlib
    import tempfile

    key = hashlib.sha256(str(target.absolute()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"stackctl-{key}.lock"


@contextmanager
def stack_lock(site: Site, stack: str) -> Iterator[None]:
    """Hold the stack's lock. Creates the stack folder (0700) when it does not exist yet."""
    folder = site.stack_dir(stack)
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)
    with hold(stack_lock_path(site, stack), f"stack {stack}", site.lock_timeout):
        yield


@contextmanager
def site_lock(site: Site) -> Iterator[None]:
    """Hold the site-wide lock (network allocation: it reads every stack's state)."""
    with hold(site_lock_path(site), "the site (network allocation)", site.lock_timeout):
        yield


@contextmanager
def hold(path: Path, what: str, timeout: float) -> Iterator[None]:
    """Take the lock at `path`; if another process holds it, say so and wait up to `timeout`."""
    from filelock import FileLock, Timeout

    path = path.absolute()
    if path in _held:  # re-entered by the same command
        _held[path] += 1
        try:
            yield
        finally:
            _held[path] -= 1
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StackctlError(
            f"cannot create the lock {path}: {exc.strerror}",
            f"check that {path.parent.parent} is a writable folder",
        ) from exc
    lock = FileLock(str(path), mode=0o600)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        from stackctl import console

        console.warn(f"waiting for the lock on {what} held by {holder(path)}")
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise LockTimeout(
                f"gave up after {timeout:g}s waiting for the lock on {what} held by {holder(path)}",
                "run the command again when the other one has finished, or raise lock_timeout in stackctl.toml",
            ) from None
    _held[path] = 1
    holder_file = path.with_name(path.name + HOLDER_SUFFIX)
    try:
        _write_holder(holder_file)
        yield
    finally:
        del _held[path]
        holder_file.unlink(missing_ok=True)
        lock.release()


def holder(path: Path) -> str:
    """Who holds the lock at `path`, as the waiting command reports it."""
    try:
        pid, _, command = (
            path.with_name(path.name + HOLDER_SUFFIX).read_text(encoding="utf-8").partition("\n")
        )
    except (OSError, UnicodeDecodeError):
        return "another stackctl command"
    return f"pid {pid.strip()} ({command.strip()})" if pid.strip() else "another stackctl command"


def _write_holder(path: Path) -> None:
    command = " ".join(["stackctl", *sys.argv[1:]])
    try:
        path.write_text(f"{os.getpid()}\n{command}\n", encoding="utf-8")
        os.chmod(path, 0o600)
    except OSError:
        pass  # only the waiting command's message needs it
