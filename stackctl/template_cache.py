"""Compiled templates kept between runs: compiling a stack's templates costs more than the
whole start-up budget of a command. Jinja keys each entry on the template's name, path and
source checksum (and its own version), so an edited template is compiled again."""

from __future__ import annotations

import os
from pathlib import Path

from jinja2 import BytecodeCache, FileSystemBytecodeCache
from jinja2.bccache import Bucket


class _TolerantCache(FileSystemBytecodeCache):
    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # a damaged entry only costs a compile
            bucket.reset()


def bytecode_cache(kind: str) -> BytecodeCache | None:
    """A cache folder per template environment (their options differ); None when the
    user's cache folder cannot be made (a read-only home only costs speed)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(base, "stackctl", f"templates-{kind}")
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None
    return _TolerantCache(str(folder))
