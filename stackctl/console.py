"""The one console: every line stackctl prints goes through here."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.theme import Theme

THEME = Theme(
    {
        "ok": "green",
        "warn": "yellow",
        "error": "bold red",
        "hint": "cyan",
        "dim": "dim",
        "create": "green",
        "identical": "dim",
        "update": "yellow",
        "conflict": "bold red",
        "match": "bold magenta",
    }
)

out = Console(theme=THEME, highlight=False, soft_wrap=True)
err = Console(theme=THEME, highlight=False, stderr=True, soft_wrap=True)

verbosity = 0


def info(message: str) -> None:
    out.print(message)


def ok(message: str) -> None:
    out.print(f"[ok]✓[/] {escape(message)}")


def warn(message: str) -> None:
    err.print(f"[warn]warning:[/] {escape(message)}")


def step(message: str) -> None:
    out.print(f"[bold]→[/] {escape(message)}")


def debug(message: str) -> None:
    if verbosity > 0:
        err.print(f"[dim]{escape(message)}[/]")


def error(message: str, hint: str | None = None) -> None:
    err.print(f"[error]error:[/] {escape(message)}")
    if hint:
        err.print(f"[hint]hint:[/] {escape(hint)}")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


@contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner on a terminal, a plain line otherwise."""
    if out.is_terminal:
        with out.status(message):
            yield
    else:
        out.print(f"… {escape(message)}")
        yield
