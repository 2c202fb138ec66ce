"""Checks across the stacks of one site, run whenever stackctl.toml is loaded for a command:
every [stacks.<name>] table is valid (a typo in one stack's table is reported whichever stack
a command names), and no two stacks on this server publish the same host port."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from stackctl.errors import SettingsError

if TYPE_CHECKING:
    from stackctl.settings import Site
    from stackctl.stack import Stack


def check_site(site: Site) -> None:
    stacks = _stacks_on_this_server(site)
    published: dict[int, tuple[str, str]] = {}
    for stack in stacks:
        for key, port in stack.published_ports().items():
            if port in published and published[port][0] != stack.name:
                owner, owner_key = published[port]
                raise SettingsError(
                    f"stacks.{stack.name}.{key} and stacks.{owner}.{owner_key} both publish "
                    f"port {port} in {site.where()}",
                    f"give one of them another port: stacks.{stack.name}.{key} or "
                    f"stacks.{owner}.{owner_key}",
                )
            published.setdefault(port, (stack.name, key))


def _stacks_on_this_server(site: Site) -> list[Stack]:
    """Every stack with a [stacks.<name>] table (each table validated) or a folder here."""
    from stackctl.recipe import all_recipes, get_recipe
    from stackctl.settings import stack_settings
    from stackctl.stack import Stack
    from stackctl.state import State, state_path

    recipes = all_recipes()
    names = list(site.stacks)  # the tables first: their errors name the key the user wrote
    names += [n for n in recipes if n not in site.stacks and Path(site.stack_dir(n)).is_dir()]
    found = []
    for name in names:
        if name not in recipes:
            raise SettingsError(
                f"[stacks.{name}] in {site.where()} names no recipe",
                "recipes: " + ", ".join(recipes),
            )
        recipe = get_recipe(name)
        settings = stack_settings(site, name, recipe.settings, list(recipes))
        found.append(Stack(recipe, site, settings, State(state_path(site.stack_dir(name)))))
    return found
