"""`stackctl run STACK ACTION [ARGS...]`."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("run", context_settings={"allow_interspersed_args": False})
    def run(
        stack: Annotated[str, typer.Argument(help="Stack name")],
        action: Annotated[
            str, typer.Argument(help="Action name (see `stackctl recipes show STACK`)")
        ],
        args: Annotated[list[str] | None, typer.Argument(help="The action's argument(s)")] = None,
    ) -> None:
        """Run a recipe action, e.g. `stackctl run ente promote-admin 1580559962386438`."""
        from stackctl import console
        from stackctl.actions import run_action
        from stackctl.commands.options import site
        from stackctl.engine import Engine
        from stackctl.stack import open_stack

        loaded = open_stack(stack, site())
        result = run_action(loaded, Engine(), loaded.recipe.action(action), args or [])
        if result.exit_code:
            raise typer.Exit(result.exit_code)
        console.ok(result.message)
