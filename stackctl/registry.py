"""Open registries: step, action, secret-format and value kinds, added to by the core and by
recipe modules (stacks/<app>/kinds.py). A name is registered once; a second registration
from another module is an error, so one recipe cannot silently replace another's kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, TypeVar

from stackctl.errors import RecipeError

T = TypeVar("T")


class Registry(dict[str, T]):
    """A table of kinds by name. A name it lacks may belong to a recipe whose module is not
    imported yet (a recipe read from the cache imports its kinds.py when first needed), so a
    miss imports those modules and looks again."""

    def __missing__(self, name: str) -> T:
        from stackctl.recipe_module import load_deferred

        if load_deferred():
            return self[name]
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        from stackctl.recipe_module import load_deferred

        return dict.__contains__(self, name) or (load_deferred() and dict.__contains__(self, name))


def _origin(item: Any) -> str:
    target = getattr(item, "generate", item)  # a secret format names its generator
    return getattr(target, "__module__", "") or "?"


def add(table: MutableMapping[str, T], what: str, name: str, item: T) -> T:
    """Register `item` under `name`; the same module registering again (a reload) replaces."""
    if name in table.keys() and _origin(table[name]) != _origin(item):  # no deferred imports
        raise RecipeError(
            f"{what} {name!r} is registered twice: by {_origin(table[name])} and by {_origin(item)}",
            "give the new one its own name (recipe kinds usually start with the app's name)",
        )
    table[name] = item
    return item


def decorator(table: MutableMapping[str, T], what: str, name: str) -> Callable[[T], T]:
    def register(item: T) -> T:
        return add(table, what, name, item)

    return register


def usable(table: Mapping[str, Any], recipe_module: str) -> set[str]:
    """The names a recipe may use: the core's, and those its own module registered (another
    recipe's kinds are that recipe's business, and may not even be loaded)."""
    return {
        name
        for name, item in table.items()
        if _origin(item).startswith("stackctl.") or _origin(item) == recipe_module
    }
