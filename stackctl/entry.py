"""The console-script entry point, with a cache for the top-level help text.

Importing typer alone costs more than `docker compose version` takes in total, so
`stackctl --help` prints the text typer rendered last time when nothing that shapes it
has changed: stackctl's version, its command modules and the terminal width. Any other
command goes straight to the typer app.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys

_HELP_ARGS = (["--help"], ["-h"])
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _width() -> int:
    try:
        columns = (
            int(os.environ.get("COLUMNS", "0"))
            or os.get_terminal_size(sys.__stdout__.fileno()).columns
        )
    except (OSError, ValueError, AttributeError):
        columns = 80
    return min(columns, 82)  # click caps help at 80 columns plus margins


def _cache_path() -> str | None:
    from stackctl import __version__

    digest = hashlib.sha256(f"{__version__}|{_width()}".encode())
    for folder in (_PACKAGE, os.path.join(_PACKAGE, "commands")):
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return None
        for entry in entries:
            if entry.name.endswith(".py"):
                info = entry.stat()
                digest.update(f"{entry.path}|{info.st_mtime_ns}|{info.st_size}".encode())
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "stackctl", f"help-{digest.hexdigest()[:20]}.txt")


def _cached_help(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def _render_and_store(path: str | None) -> None:
    from stackctl.cli import main as run

    buffer = io.StringIO()
    real = sys.stdout
    sys.stdout = buffer
    code: object = 0
    try:
        run()
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.stdout = real
    text = buffer.getvalue()
    real.write(text)
    if path and code in (0, None) and text:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            temporary = f"{path}.{os.getpid()}.tmp"
            with open(temporary, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temporary, path)
        except OSError:
            pass  # a read-only home only costs speed
    sys.exit(code)


def main() -> None:
    if sys.argv[1:] in _HELP_ARGS:
        path = _cache_path()
        text = _cached_help(path) if path else None
        if text is not None:
            sys.stdout.write(text)
            return
        _render_and_store(path)
    from stackctl.cli import main as run

    run()
