"""The typer app and the one error boundary.

Commands live one module per group in stackctl/commands/ and are found automatically; a
command named in COMMAND_MODULES builds only its own module, since typer's building of every
command costs a good part of the start-up budget. Nothing heavy is imported here.
"""

from __future__ import annotations

import importlib
import os
import sys
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import typer

from stackctl import __version__, boundary, commands
from stackctl.commands import _help, options

# which module registers each command: a command named here builds only its own module (a
# name missing here only costs speed: every module is registered, as for `--help`)
COMMAND_MODULES = {
    "deploy": "deploy",
    "status": "deploy",
    "down": "deploy",
    "images": "images",
    "init": "init",
    "config": "config",
    "logs": "logs",
    "extract": "logs",
    "network": "network",
    "plan": "plan",
    "render": "plan",
    "proxy": "proxy",
    "host-snippets": "proxy",
    "recipes": "recipes",
    "run": "run",
    "secrets": "secrets",
    "backup": "backup",
    "restore": "backup",
}


def _new_app() -> typer.Typer:
    app = typer.Typer(
        name="stackctl",
        help="Deploy self-hosted apps as Docker Compose stacks on one server, repeatably and safely.",
        cls=_help.grouped_group_class(),
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        pretty_exceptions_show_locals=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    return app


def _version(value: bool) -> None:
    if value:
        print(f"stackctl {__version__}")
        raise typer.Exit()


def _root(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="stackctl.toml to use (else $STACKCTL_CONFIG, ./stackctl.toml, /etc/stackctl/stackctl.toml)",
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More detail; tracebacks on errors")
    ] = 0,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version")
    ] = False,
) -> None:
    options.config_path = config
    options.verbose = verbose


def _command_modules() -> list[str]:
    folder = commands.__path__[0]
    names = (n[:-3] for n in os.listdir(folder) if n.endswith(".py"))
    return sorted(n for n in names if not n.startswith("_") and n != "options")


@cache
def build(only: str | None = None) -> typer.Typer:
    """The app with every command module, or with only the one module `only`."""
    app = _new_app()
    for name in [only] if only else _command_modules():
        importlib.import_module(f"stackctl.commands.{name}").register(app)
    _help.apply(app)
    return app


def _module_for(args: list[str]) -> str | None:
    """The module of the command the arguments name, past the root options; None if unsure."""
    rest = iter(args)
    for arg in rest:
        if arg in ("-c", "--config"):
            next(rest, None)
        elif arg == "--verbose" or arg.startswith("--config=") or arg.strip("v") == "-":
            continue
        elif arg.startswith("-"):
            return None  # --help, --version, or a usage error: the whole app answers
        else:
            return COMMAND_MODULES.get(arg)
    return None


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole app, for callers that drive typer themselves
        return build()
    raise AttributeError(name)


def main() -> None:
    """Entry point: run the app; turn every known error into `error: ...` plus a hint."""
    # outside standalone mode typer hands back the code of `raise typer.Exit(code)`
    boundary.run(lambda: build(_module_for(sys.argv[1:]))(standalone_mode=False))
