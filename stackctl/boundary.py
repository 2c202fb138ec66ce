"""The one error boundary: every known error becomes `error: ...` plus a hint, a traceback
only with -v. Both ways a command is run (typer, or the cached command description) end here."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NoReturn

from stackctl.commands import options


def run(command: Callable[[], Any]) -> NoReturn:
    """Run the command and exit with its code, or with the code of the error it raised."""
    try:
        code = command()
    except SystemExit:
        raise
    except BaseException as exc:  # the one boundary
        sys.exit(report(exc))
    sys.exit(code if isinstance(code, int) else 0)


def report(exc: BaseException) -> int:
    """Print the error the way a user reads it; the exit code that goes with it."""
    # typer's exceptions come from click or from typer's own copy of it, by version:
    # recognise them by shape rather than by import.
    kind = type(exc).__name__
    if kind == "Exit":
        return int(getattr(exc, "exit_code", 0))
    if kind == "Abort" or isinstance(exc, KeyboardInterrupt):
        print("\nstopped by user; run the same command again to resume", file=sys.stderr)
        return 130
    from stackctl import console
    from stackctl.errors import EngineError, StackctlError

    if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # a usage error
        context = getattr(exc, "ctx", None)
        path = context.command_path if context is not None else "stackctl"
        console.error(exc.format_message(), f"see `{path} --help`")
        return int(exc.exit_code)

    if options.verbose:
        import traceback

        traceback.print_exception(exc)
    if isinstance(exc, StackctlError):
        console.error(exc.message, exc.hint)
        if isinstance(exc, EngineError) and exc.output and options.verbose:
            console.err.print(exc.output, markup=False)
        return exc.exit_code
    if isinstance(exc, OSError):
        from stackctl.oserrors import describe

        console.error(*describe(exc))
        return 1
    console.error(
        f"unexpected {type(exc).__name__}: {exc}",
        "run again with -v for the traceback, and report it",
    )
    return 70
