"""The one way stackctl writes a file: a temp file beside the target, fsync, rename.

A reader sees the old file or the new one, never half of either. Temp files carry one
name pattern, `.<name>.<random>.stackctl-tmp`, so a run killed between the write and the
rename leaves debris the next run recognises as its own and removes (`remove_stale`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from stackctl.errors import StackctlError

TEMP_SUFFIX = ".stackctl-tmp"
# names older versions used for the same purpose: .env.<random>.tmp, .stackctl/tmp<random>.tmp
_LEGACY = (".env.*.tmp", "tmp*.tmp")


def write_atomic(path: Path, data: str | bytes, mode: int, dir_mode: int | None = None) -> None:
    """Replace `path` with `data`, mode `mode` from the first byte.

    With `dir_mode`, the folder is created with (and set to) that mode: 0700 for secrets.
    """
    import tempfile  # here: a command that writes nothing does not load it

    try:
        if dir_mode is None:
            path.parent.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True, mode=dir_mode)
            os.chmod(path.parent, dir_mode)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    except OSError as exc:
        raise _cannot_write(path, exc) from exc
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _cannot_write(path, exc) from exc
        raise


def remove_stale(targets: Iterable[Path]) -> list[Path]:
    """Remove temp files a killed run left beside these targets (ours by name only)."""
    removed = []
    folders: set[Path] = set()
    for target in targets:
        folders.add(target.parent)
        removed += _unlink(target.parent.glob(f".{target.name}.*{TEMP_SUFFIX}"))
    for folder in folders:
        for pattern in _LEGACY:
            if pattern == "tmp*.tmp" and folder.name != ".stackctl":
                continue
            removed += _unlink(folder.glob(pattern))
    return removed


def _unlink(paths: Iterable[Path]) -> list[Path]:
    gone = []
    for path in paths:
        if path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            gone.append(path)
    return gone


def _cannot_write(path: Path, exc: OSError) -> StackctlError:
    from stackctl.oserrors import HINTS

    reason = exc.strerror or str(exc)
    return StackctlError(
        f"cannot write {path}: {reason}",
        HINTS.get(
            exc.errno or 0,
            "check free space, permissions, and that each folder on the path is a folder; then run again",
        ),
    )
