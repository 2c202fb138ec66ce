"""What rendering gave last time, kept with the digest of everything it was given.

Importing Jinja costs most of an engine-free command's start-up budget, and a plan renders
from the same inputs as the deploy before it. So every Jinja call (a recipe condition, a
recipe string, a template) first looks up the digest of: the call (its kind and source),
the context it is given (its repr: every value a template can reach), and the files it can
read (stackctl's modules and shared templates, and the recipe's folder). A known digest
returns the stored result without loading Jinja; any other renders and is stored.

Kept: text, booleans, numbers and lists of text only, and never a file marked secret (its
template sees the secrets; it renders each time). A context whose repr names an object by
its address is not kept either (the digest would differ in every process). The files are
taken as they are when a command first renders a recipe: a command that edits templates
while it runs calls forget().
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

_LIMIT = 4096  # entries kept in one file beyond those the last command used


class _Memo:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = {}
        self.stored: dict[str, Any] = stored if isinstance(stored, dict) else {}
        self.added: dict[str, Any] = {}

    def save(self) -> None:
        if not self.added:
            return
        kept = {**self.stored, **self.added}
        if len(kept) > _LIMIT:
            kept = self.added
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(kept, handle)
            os.replace(temporary, self.path)
        except OSError:
            pass  # a read-only home only costs speed
        self.stored, self.added = kept, {}


_memos: dict[str, _Memo] = {}


def _memo(scope: str) -> _Memo:
    if scope not in _memos:
        from stackctl.recipe_cache import cache_root

        _memos[scope] = _Memo(cache_root() / "rendered" / f"{scope[:32]}.json")
        atexit.register(_memos[scope].save)  # once, however many renders added to it
    return _memos[scope]


@cache
def recipe_scope(folder: Path) -> str:
    """The digest of what a recipe's templates can read: its folder and stackctl's own."""
    from stackctl.recipe_cache import folder_digest

    return folder_digest(folder)


def core_scope() -> str:
    """The digest of what stackctl's own (proxy) templates can read."""
    from stackctl.recipe_cache import core_digest

    return core_digest()


def remembered(
    scope: str, kind: str, source: str, context: Mapping[str, Any], render: Callable[[], Any]
) -> Any:
    """render()'s result: the one stored for these inputs, else rendered now and stored."""
    shown = repr(context)
    if " at 0x" in shown:  # an object known by its address: no two processes agree
        return render()
    key = hashlib.sha256(f"{kind}\0{source}\0{shown}".encode()).hexdigest()
    memo = _memo(scope)
    for entries in (memo.added, memo.stored):
        if key in entries:
            return entries[key]
    value = render()
    if _kept_as_is(value):
        memo.added[key] = value
    return value


def _kept_as_is(value: Any) -> bool:
    """Whether JSON gives the value back as it is."""
    if isinstance(value, list):
        return all(type(item) is str for item in value)
    return type(value) in (str, bool, int, float, type(None))


def forget() -> None:
    """Save what was added; the next render reads the files (and the cache folder) again."""
    for memo in _memos.values():
        memo.save()
    _memos.clear()
    recipe_scope.cache_clear()
