"""Validated recipes kept between runs: parsing and checking every recipe on each command
costs more than half the start-up budget of an engine-free command.

An entry is keyed on everything its checks read: the recipe folder's files (recipe.toml,
kinds.py, templates), the shared templates, stackctl's own modules and version, each by path,
inode, size and change times. Any change there makes a new key, so the recipe is parsed and
checked again. A damaged or unreadable entry only costs that check.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from stackctl import __version__
from stackctl.paths import templates_dir

if TYPE_CHECKING:
    from stackctl.recipe import Recipe

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_SKIPPED = {"__pycache__", ".pytest_cache", ".ruff_cache"}
_core: bytes | None = None


def _stat_lines(root: str) -> Iterable[str]:
    """`path|inode|mtime|ctime|size` for every file under root, in a stable order."""
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if d not in _SKIPPED)
        for name in sorted(files):
            path = os.path.join(folder, name)
            try:
                info = os.stat(path)
            except OSError:
                continue
            yield f"{path}|{info.st_ino}|{info.st_mtime_ns}|{info.st_ctime_ns}|{info.st_size}\n"


def _core_digest() -> bytes:
    """stackctl's version, modules and shared templates: the checks and kinds live there."""
    global _core
    if _core is None:
        digest = hashlib.sha256(f"{__version__}|{sys.version}\n".encode())
        for root in (_PACKAGE, str(templates_dir())):
            for line in _stat_lines(root):
                digest.update(line.encode())
        _core = digest.digest()
    return _core


def folder_digest(folder: Path) -> str:
    """The digest of a recipe folder's files as they are now, and of stackctl's own."""
    digest = hashlib.sha256(_core_digest())
    digest.update(f"{folder}\n".encode())
    for line in _stat_lines(str(folder)):
        digest.update(line.encode())
    return digest.hexdigest()


def core_digest() -> str:
    return _core_digest().hex()


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "stackctl")


def entry(folder: Path) -> Path:
    """Where the recipe checked from the folder's files as they are now is kept."""
    return cache_root() / "recipes" / f"{folder_digest(folder)[:32]}.pickle"


def cached(path: Path, folder: Path) -> Recipe | None:
    """The recipe checked earlier from exactly these files, or None."""
    from stackctl.recipe import Recipe

    try:
        recipe = pickle.loads(path.read_bytes())
    except Exception:  # missing, damaged, or written by another stackctl: check again
        return None
    return recipe if isinstance(recipe, Recipe) and recipe.folder == folder else None


def store(path: Path, recipe: Recipe) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_bytes(pickle.dumps(recipe, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(temporary, path)
    except OSError:
        pass  # a read-only home only costs speed


def clean_mark(folder: Path) -> Path:
    """The mark left when `recipes check` found no problem in the folder's files as they are
    now (the same key as the checked recipe: any change there makes a new one)."""
    return cache_root() / "recipes" / f"{folder_digest(folder)[:32]}.clean"


def mark_clean(mark: Path) -> None:
    try:
        mark.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        mark.touch()
    except OSError:
        pass  # a read-only home only costs speed
