"""Every recipe's virtual hosts, as `stackctl proxy` would render them with default settings."""

from __future__ import annotations

from stackctl.proxy.model import VirtualHost
from stackctl.recipe import all_recipes
from stackctl.render import stack_vhosts
from stackctl.settings import Site, stack_settings


def recipe_names() -> list[str]:
    return sorted(all_recipes())


def recipe_vhosts(name: str, site: Site | None = None) -> list[VirtualHost]:
    site = site or Site()
    recipe = all_recipes()[name]
    settings = stack_settings(site, name, recipe.settings, list(all_recipes()))
    return stack_vhosts(recipe, site, settings)
