"""The argument shapes commands share: several stacks, or `--all`."""

from __future__ import annotations

from typing import Annotated

import typer


def complete_stack(incomplete: str) -> list[str]:
    """Shell completion: the recipe names that start with what was typed."""
    from stackctl.recipe import all_recipes

    try:
        names = list(all_recipes())
    except Exception:  # completion must never print a traceback into the shell
        return []
    return [name for name in names if name.startswith(incomplete)]


Stacks = Annotated[
    list[str] | None,
    typer.Argument(help="Stack names, e.g. ente", autocompletion=complete_stack),
]
AllStacks = Annotated[
    bool,
    typer.Option(
        "--all", help="Every stack enabled in stackctl.toml ([stacks.NAME] enabled = true)"
    ),
]
