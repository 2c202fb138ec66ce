"""The argument shapes commands share: several stacks, or `--all`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from stackctl.engine import Engine

Stacks = Annotated[list[str] | None, typer.Argument(help="Stack names, e.g. ente")]
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
