"""Global options set by the root callback, and the loaders every command shares."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stackctl.engine import Engine
    from stackctl.settings import Site

config_path: Path | None = None
verbose: int = 0


def site() -> Site:
    from stackctl.recipe import use_recipe_paths
    from stackctl.settings import load_site

    if verbose:  # rich is only loaded when something is printed
        from stackctl import console

        console.verbosity = verbose
    from stackctl.site_check import check_roots, check_stack_tables

    loaded = load_site(config_path)
    use_recipe_paths(loaded.recipe_paths)  # the site's own recipes join the shipped ones
    check_roots(loaded)
    check_stack_tables(loaded)
    return loaded


def chosen_stacks(
    settings: Site, names: list[str] | None, all_stacks: bool, verb: str = "act on"
) -> list[str]:
    """The stacks a command acts on: the ones named, or with --all the ones the site enables.

    Never every recipe: a default must not act on stacks the user did not ask for."""
    from stackctl.errors import StackctlError
    from stackctl.recipe import all_recipes

    if names and all_stacks:
        raise StackctlError("name stacks or use --all, not both")
    if names:
        return list(dict.fromkeys(names))
    example = next(iter(all_recipes()), "ente")
    if not all_stacks:
        raise StackctlError(
            f"name a stack to {verb}, or use --all for the stacks enabled in {settings.where()}",
            "recipes: " + ", ".join(all_recipes()),
        )
    enabled = settings.enabled_stacks()
    if not enabled:
        raise StackctlError(
            f"no stack is enabled in {settings.where()}, so there is nothing to {verb}",
            f"name the stack (e.g. {example}), or enable the ones this server runs with "
            f"[stacks.{example}] enabled = true in stackctl.toml",
        )
    return enabled


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
