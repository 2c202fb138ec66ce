"""Values a bootstrap step captured once (an initial admin password), kept for `extract`.

A step declares `keep_as = "NAME"`; what it keeps is written to <stack dir>/.stackctl/kept/NAME
(mode 0600 in a 0700 folder), never to state.json. `stackctl extract STACK NAME` prints it while
the step that captured it is still in the bootstrap journal; the `forget-kept` action deletes it.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from stackctl.envfile import write_private
from stackctl.errors import StackctlError
from stackctl.state import STATE_DIR
from stackctl.steps import ActionResult, action_kind

if TYPE_CHECKING:
    from pathlib import Path

    from stackctl.engine import Engine
    from stackctl.recipe import Action, Recipe, Step
    from stackctl.stack import Stack

_KEEP_OPTION = re.compile(r"^keep(_[a-z]+)?_as$")


def kept_dir(stack_dir: Path) -> Path:
    return stack_dir / STATE_DIR / "kept"


def kept_names(step: Step) -> list[str]:
    """What a step keeps: `keep_as`, and any `keep_<what>_as` (a second value, e.g. ids)."""
    return [str(v) for k, v in step.options.items() if _KEEP_OPTION.match(k) and v]


def keeping_step(recipe: Recipe, name: str) -> Step | None:
    """The bootstrap step that keeps `name`, if any step does."""
    for step in recipe.bootstrap:
        if name in kept_names(step):
            return step
    return None


def keep(stack: Stack, step: Step, value: str, name: str | None = None) -> None:
    name = name or step.options["keep_as"]
    write_private(kept_dir(stack.dir) / name, json.dumps({"step": step.id, "value": value}) + "\n")


def has(stack: Stack, name: str) -> bool:
    return (kept_dir(stack.dir) / name).is_file()


def read(stack: Stack, name: str) -> str:
    """The kept value; an error that says why when there is none (any more)."""
    step = keeping_step(stack.recipe, name)
    assert step is not None
    path = kept_dir(stack.dir) / name
    entry = stack.state.journal.get(step.id)
    if entry is None:
        # the journal was reset: the value may no longer be true, so it goes
        path.unlink(missing_ok=True)
    if not path.is_file():
        raise StackctlError(
            f"no {name} is kept for {stack.name}",
            f"it is kept from the `{step.id}` bootstrap step until forgotten; "
            "if it is lost, set a new password with the app's own tools",
        )
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["value"])
    except (OSError, ValueError, KeyError) as exc:
        raise StackctlError(f"cannot read {path}: {exc}") from exc


def forget(stack: Stack) -> list[str]:
    folder = kept_dir(stack.dir)
    gone = []
    for path in sorted(folder.glob("*")) if folder.is_dir() else ():
        if path.is_file():
            path.unlink()
            gone.append(path.name)
    return gone


@action_kind("forget-kept", {})
def forget_kept(stack: Stack, engine: Engine, action: Action, values: list[Any]) -> ActionResult:
    """Delete every value the bootstrap kept for this stack (after you changed the password)."""
    gone = forget(stack)
    if not gone:
        return ActionResult("nothing is kept; nothing changed")
    return ActionResult(f"forgot {', '.join(gone)}")
