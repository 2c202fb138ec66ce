"""The console-script entry point: what it can answer without typer, it answers so.

Importing typer alone costs more than `docker compose version` takes in total. So
`stackctl --help` prints the text typer rendered last time, and any other command runs from
the description of the CLI that typer's app gave last time (stackctl.dispatch), as long as
nothing that shapes them changed: stackctl's version, its modules and (for the help) the
terminal width. What the description does not answer (help of a command, completion, usage
errors) goes to the typer app.
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


def _cache_path(kind: str, shape: str = "") -> str | None:
    """A file in the user's cache, named after everything that shapes its content."""
    from stackctl import __version__

    digest = hashlib.sha256(f"{__version__}|{shape}".encode())
    for folder in (_PACKAGE, os.path.join(_PACKAGE, "commands")):
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return None
        for entry in entries:
            if entry.name.endswith(".py"):
                info = entry.stat()
                digest.update(f"{entry.path}|{info.st_mtime_ns}|{info.st_size}".encode())
    return os.path.join(_cache_folder(), f"{kind}-{digest.hexdigest()[:20]}")


def _cache_folder() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "stackctl")


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


def _description(path: str | None) -> dict[str, object]:
    """The CLI's description: the stored one, else described from the typer app and stored."""
    from stackctl import dispatch

    stored = dispatch.load(path) if path else None
    if stored is not None:
        return stored
    import typer.main

    from stackctl.cli import build

    described = dispatch.describe(typer.main.get_command(build()))
    if path:
        dispatch.store(path, described)
    return described


def main() -> None:
    args = sys.argv[1:]
    if args in _HELP_ARGS:
        path = _cache_path("help", str(_width()))
        text = _cached_help(path) if path else None
        if text is not None:
            sys.stdout.write(text)
            return
        _render_and_store(path)
    from stackctl import dataclass_code, dispatch

    # keyed on the interpreter alone: the code of a text depends on nothing else
    python = hashlib.sha256(sys.version.encode()).hexdigest()[:20]
    dataclass_code.install(os.path.join(_cache_folder(), f"dataclass-code-{python}"))
    call = dispatch.resolve(_description(_cache_path("commands.json")), args)
    if call is not None:
        from stackctl import boundary

        boundary.run(call.run)
    from stackctl.cli import main as run

    run()
