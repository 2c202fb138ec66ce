"""The argument shapes commands share: several stacks, or `--all`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from stackctl.engine import Engine


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


def engine_or_unknown() -> Engine | None:
    """The engine when it answers; else None, and one warning about what is left unknown."""
    from stackctl import console
    from stackctl.engine import open_engine, reachable

    engine = reachable(open_engine())
    if engine is None:
        console.warn(
            "Docker engine not reachable: existing networks and missing images are shown as unknown"
        )
    return engine
