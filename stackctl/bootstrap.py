"""Bootstrap steps: idempotent, journaled in the stack state, resumable after a kill.

A step is marked `started` before it runs and `done` after; a step found `started` was
interrupted and simply runs again (each runner is idempotent). Steps marked `always` are
cheap checks that run on every deploy and report a change only when they made one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stackctl.recipe import Recipe, Step
from stackctl.steps import StepContext, step_runner

__all__ = ["StepContext", "StepResult", "active_steps", "run_steps"]


@dataclass(frozen=True)
class StepResult:
    step: str
    outcome: str  # "changed", "unchanged", "skipped"
    detail: str = ""


def active_steps(recipe: Recipe, context: Mapping[str, Any]) -> tuple[Step, ...]:
    """The steps whose `when` holds for these settings (a MariaDB step only with MariaDB)."""
    from stackctl.render import evaluate

    return tuple(s for s in recipe.bootstrap if evaluate(recipe, s.when, context))


def run_steps(
    steps: tuple[Step, ...], ctx: StepContext, on_step: Callable[[Step], Any] | None = None
) -> list[StepResult]:
    state = ctx.stack.state
    results = []
    for step in steps:
        entry = state.journal.get(step.id, {})
        if entry.get("status") == "done" and not step.always:
            results.append(StepResult(step.id, "skipped", "done earlier"))
            continue
        if on_step:
            on_step(step)
        state.journal[step.id] = {**entry, "status": "started", "at": _now()}
        state.save()
        changed, detail = step_runner(step.kind)(step, ctx)
        state.journal[step.id] = {"status": "done", "at": _now(), "detail": detail}
        state.save()
        results.append(StepResult(step.id, "changed" if changed else "unchanged", detail))
    return results


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
