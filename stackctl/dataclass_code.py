"""The code of the methods dataclasses writes, kept between runs.

For every class, dataclasses writes `__init__`, `__repr__`, `__eq__`, `__hash__` and (frozen)
`__setattr__`/`__delattr__` as source text and compiles it at import: about half a millisecond
a class, a quarter of `plan`'s start-up. The same text always compiles to the same code, so the
console script keeps that code in the user's cache (marshal, keyed on the text) and hands
dataclasses the compiled code in place of the text. The classes are exactly what dataclasses
makes of them: the same methods, from the same text; only the compiling is skipped.
"""

from __future__ import annotations

import builtins
import marshal
import os
from types import CodeType
from typing import Any

_known: dict[str, CodeType] = {}  # read from the cache
_new: dict[str, CodeType] = {}  # compiled in this run
_used: set[str] = set()
# texts other builds of stackctl wrote pile up in the one file; past this many it is started
# again with the ones this run used (one build's commands use about 400)
LIMIT = 4000


def cached_exec(source: Any, globals: Any = None, locals: Any = None, /) -> None:
    """exec, with the code of a source text compiled before taken from the cache."""
    if isinstance(source, str):
        _used.add(source)
        code = _known.get(source) or _new.get(source)
        if code is None:
            # dont_inherit: this module's `annotations` future must not reach the methods
            code = _new[source] = compile(source, "<string>", "exec", dont_inherit=True)
        source = code
    builtins.exec(source, globals, locals)


def load(path: str) -> None:
    try:
        with open(path, "rb") as handle:  # marshal.load(handle) reads in small pieces: slower
            stored = marshal.loads(handle.read())
    except (OSError, EOFError, ValueError, TypeError):
        return  # none yet, or damaged: compiled again and stored anew
    if isinstance(stored, dict):
        _known.update(stored)


def save(path: str) -> None:
    """Store the code when this run compiled any (at exit)."""
    if not _new:
        return
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "wb") as handle:
            kept = {**_known, **_new}
            if len(kept) > LIMIT:
                kept = {text: kept[text] for text in _used}
            handle.write(marshal.dumps(kept))
        os.replace(temporary, path)
    except OSError:
        pass  # a read-only home only costs speed


def install(path: str) -> None:
    """From now on, dataclasses takes the code it compiles from the cache at `path`."""
    import atexit
    import dataclasses

    load(path)
    # dataclasses calls exec by its global name: a module global shadows the builtin there only
    dataclasses.exec = cached_exec  # type: ignore[attr-defined]
    atexit.register(save, path)
