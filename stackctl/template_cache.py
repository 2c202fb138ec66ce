"""Compiled templates kept between runs: compiling a stack's templates costs more than the
whole start-up budget of a command. Jinja keys each entry on the template's name, path and
source checksum (and its own version), so an edited template is compiled again."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import BytecodeCache, Environment, FileSystemBytecodeCache, Template
from jinja2.bccache import Bucket
from jinja2.environment import TemplateExpression


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


def from_string(env: Environment, source: str) -> Template:
    """`env.from_string(source)`, its compiled code kept in the environment's bytecode cache
    as a template file's is: a plan expands and evaluates a few dozen recipe strings."""
    cache = env.bytecode_cache
    if cache is None:
        return env.from_string(source)
    digest = hashlib.sha256(source.encode()).hexdigest()
    bucket = cache.get_bucket(env, f"string-{digest}", None, source)
    if bucket.code is None:
        bucket.code = env.compile(source)
        cache.set_bucket(bucket)
    return env.template_class.from_code(env, bucket.code, env.make_globals(None))


def compile_expression(env: Environment, expression: str) -> Callable[..., Any]:
    """`env.compile_expression(expression)`, cached like from_string: the expression is the
    value of a `set`, which the caller reads back as compile_expression's own result does."""
    if env.bytecode_cache is None or "%}" in expression:
        return env.compile_expression(expression)
    return TemplateExpression(from_string(env, "{% set result = (" + expression + ") %}"), True)
