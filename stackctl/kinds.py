"""Every kind a recipe may name, in one place: the core's generic step and action kinds
(stackctl/steps/, plus the `deploy` action in stackctl/actions.py, which sits above the
deploy flow) and whatever recipe modules registered when their recipes loaded."""

from __future__ import annotations


def load_core() -> None:
    import stackctl.actions  # noqa: F401  registers the `deploy` action kind
    from stackctl import steps

    steps.load_generic()


def known_kinds() -> tuple[set[str], set[str]]:
    from stackctl import recipe_module, steps

    load_core()
    recipe_module.load_deferred()  # a cached recipe's own kinds count too
    return set(steps.STEP_RUNNERS), set(steps.ACTION_RUNNERS)
