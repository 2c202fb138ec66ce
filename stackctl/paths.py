"""Where stackctl's own data lives: inside the wheel, or beside the package in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_root() -> Path:
    bundled = _PACKAGE / "_data"
    return bundled if bundled.is_dir() else _PACKAGE.parent


def stacks_dir() -> Path:
    return _data_root() / "stacks"


def templates_dir() -> Path:
    return _data_root() / "templates"
