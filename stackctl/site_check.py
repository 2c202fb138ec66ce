"""Checks across the stacks of one site.

`check_stack_tables` runs whenever stackctl.toml is loaded for a command: a typo in one stack's
table is reported whichever stack the command names. `check_ports_unshared` runs when a stack
is opened: no two stacks on this server publish the same host port.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from stackctl.errors import SettingsError

if TYPE_CHECKING:
    from stackctl.settings import Site
    from stackctl.stack import Stack


def check_roots(site: Site) -> None:
    """The folders the site names must be folders (or not exist yet)."""
    for key in ("stacks_root", "data_root", "proxy_root"):
        folder = Path(getattr(site, key))
        if folder.exists() and not folder.is_dir():
            raise SettingsError(
                f"{key} = {str(folder)!r} in {site.where()} is a file, not a folder",
                f"move the file aside, or set {key} to a folder",
            )


def check_stack_tables(site: Site) -> None:
    """Validate every [stacks.<name>] table against its recipe."""
    from stackctl.recipe import all_recipes, get_recipe
    from stackctl.settings import stack_settings

    recipes = all_recipes()
    for name in site.stacks:
        if name not in recipes:
            raise SettingsError(
                f"[stacks.{name}] in {site.where()} names no recipe",
                "recipes: " + ", ".join(recipes),
            )
        stack_settings(site, name, get_recipe(name).settings, list(recipes))


def check_ports_unshared(stack: Stack) -> None:
    """A port this stack publishes must not be published by another stack on this server
    (one with a [stacks.<name>] table or a folder under stacks_root)."""
    mine = {port: key for key, port in stack.published_ports().items()}
    if not mine:
        return
    for other in _other_stacks(stack):
        for key, port in other.published_ports().items():
            if port in mine:
                raise SettingsError(
                    f"stacks.{stack.name}.{mine[port]} and stacks.{other.name}.{key} both "
                    f"publish port {port} in {stack.site.where()}",
                    f"give one of them another port: stacks.{stack.name}.{mine[port]} or "
                    f"stacks.{other.name}.{key}",
                )


def _other_stacks(stack: Stack) -> list[Stack]:
    from stackctl.recipe import all_recipes
    from stackctl.settings import stack_settings
    from stackctl.stack import Stack
    from stackctl.state import State, state_path

    site = stack.site
    recipes = all_recipes()
    found = []
    for name, recipe in recipes.items():
        folder = site.stack_dir(name)
        if name == stack.name or not (name in site.stacks or Path(folder).is_dir()):
            continue
        settings = stack_settings(site, name, recipe.settings, list(recipes))
        found.append(Stack(recipe, site, settings, State(state_path(folder))))
    return found
