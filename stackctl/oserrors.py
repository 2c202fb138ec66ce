"""A failed file operation as one line a user can act on: what, which path, and what to do.

Specific checks elsewhere give better hints where they know more; this is the net under them,
so a read-only disk or a full one is never an "unexpected" crash.
"""

from __future__ import annotations

import errno

HINTS = {
    errno.EROFS: "the file system is mounted read-only; remount it read-write, or point the setting at a writable place",
    errno.ENOSPC: "the disk is full; free some space (`df -h`), then run the same command again",
    errno.EDQUOT: "the disk quota is used up; free some space, then run the same command again",
    errno.EACCES: "this user may not do that there; run as the user that owns the stacks (often root)",
    errno.EPERM: "the file may be immutable (`lsattr`; `chattr -i` to clear) or this user may not change it",
    errno.EISDIR: "a folder is where a file is expected; move the folder aside",
    errno.ENOTDIR: "a file is where a folder is expected (check the paths in stackctl.toml)",
    errno.ENOENT: "a folder on the way does not exist; check the paths in stackctl.toml",
    errno.EEXIST: "something is already there; move it aside",
    errno.ELOOP: "a symlink loop is on the way; fix or remove the link",
    errno.ENAMETOOLONG: "shorten the path",
    errno.EIO: "the disk reported an input/output error; check the system log",
}


def describe(exc: OSError) -> tuple[str, str]:
    """(message, hint) for an OSError, naming the path(s) involved."""
    reason = exc.strerror or str(exc)
    where = " ".join(
        f"'{name}'" for name in (exc.filename, exc.filename2) if name not in (None, "")
    )
    if exc.errno == errno.ENOENT and exc.filename and "/" not in str(exc.filename):
        return (
            f"cannot run {exc.filename}: it is not installed or not on PATH",
            "install it (docker: docker.io and docker-compose v2), or fix PATH",
        )
    message = f"{reason}: {where}" if where else reason
    return message, HINTS.get(exc.errno or 0, "check the path and its permissions")
