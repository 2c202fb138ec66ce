"""Values one stack publishes and another reads (a shared secret, a URL it learned).

The publisher declares `[[publishes]] value = "shared_secret", secret = "CHAT_SHARED_SECRET"`
(or `fact = "..."`); the reader `[[reads]] stack = "chat", value = "shared_secret",
into = "CHAT_SECRET"`, and its templates and steps see the value under `into`
with its own secrets (so only secret files may hold it). The value is read from the
publisher's stack folder on every run, so a rotation there reaches the reader on its next
deploy. Order follows from the declarations: the publisher is deployed first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackctl.errors import RecipeError, StackctlError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from stackctl.recipe import Recipe
    from stackctl.settings import Site


def read_values(recipe: Recipe, site: Site) -> dict[str, str]:
    """What `recipe` reads from other stacks, by its `into` names; an error names the stack
    to deploy first when a value does not exist yet."""
    from stackctl import secrets
    from stackctl.recipe import get_recipe
    from stackctl.state import load_state

    found: dict[str, str] = {}
    for read in recipe.reads:
        publisher = get_recipe(read.stack)
        published = {p.value: p for p in publisher.publishes}
        if read.value not in published:
            raise RecipeError(
                f"recipe {recipe.name} reads {read.value!r} from {read.stack}, "
                f"which does not publish it",
                f"{read.stack} publishes: " + (", ".join(published) or "nothing"),
            )
        source = published[read.value]
        folder = site.stack_dir(read.stack)
        if source.secret:
            value = secrets.load(folder).get(source.secret) if folder.is_dir() else None
        else:
            facts = load_state(folder).facts if folder.is_dir() else {}
            value = facts.get(source.fact)
        if value in (None, "", []):
            raise StackctlError(
                f"{recipe.name} needs {read.value!r} from stack {read.stack}, "
                f"which {read.stack} has not made yet",
                f"deploy {read.stack} first: `stackctl deploy {read.stack} {recipe.name}` "
                "does both in order",
            )
        found[read.into] = str(value)
    return found


def deploy_order(names: Iterable[str]) -> list[str]:
    """The stacks in an order where each publisher comes before its readers (otherwise the
    order given); a cycle is an error naming it."""
    from stackctl.recipe import get_recipe

    wanted = list(dict.fromkeys(names))
    ordered: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            cycle = " -> ".join([*visiting[visiting.index(name) :], name])
            raise RecipeError(
                f"stacks read from each other in a circle: {cycle}",
                "one of them must stop reading the other",
            )
        visiting.append(name)
        for read in get_recipe(name).reads:
            if read.stack in wanted:
                visit(read.stack)
        visiting.pop()
        ordered.append(name)

    for name in wanted:
        visit(name)
    return ordered
