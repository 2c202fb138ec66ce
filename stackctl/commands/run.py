"""`stackctl run STACK ACTION [ARGS...]`."""

from __future__ import annotations

from typing import Annotated

import typer

READ_ONLY_ACTION_KINDS = frozenset({"exec"})


def register(app: typer.Typer) -> None:
    @app.command("run", context_settings={"allow_interspersed_args": False})
    def run(
        stack: Annotated[str, typer.Argument(help="Stack name")],
        action: Annotated[
            str, typer.Argument(help="Action name (see `stackctl recipes show STACK`)")
        ],
        args: Annotated[list[str] | None, typer.Argument(help="The action's argument(s)")] = None,
        json: Annotated[
            bool,
            typer.Option("--json", help="Print the result as JSON (before STACK: run --json ...)"),
        ] = False,
    ) -> None:
        """Run a recipe action, e.g. `stackctl run ente promote-admin 1580559962386438`."""
        from contextlib import nullcontext

        from stackctl import console
        from stackctl.actions import run_action
        from stackctl.commands.options import site
        from stackctl.engine import open_engine
        from stackctl.locking import stack_lock
        from stackctl.stack import open_stack

        settings = site()
        chosen = open_stack(stack, settings).recipe.action(action)
        # an exec only runs a command in a container; every other kind may write state
        writes = chosen.kind not in READ_ONLY_ACTION_KINDS
        with stack_lock(settings, stack) if writes else nullcontext():
            loaded = open_stack(stack, settings)  # state is read inside the lock
            result = run_action(loaded, open_engine(), chosen, args or [])
        if result.exit_code:
            from stackctl.errors import CommandFailed

            raise CommandFailed(
                f"{stack} {action} failed: {result.message}",
                "its output is above; run again with -v for more detail",
                result.exit_code,
            )
        if json:
            console.print_json(result.data or {"message": result.message})
            return
        console.ok(result.message)
