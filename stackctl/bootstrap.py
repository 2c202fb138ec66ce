"""Bootstrap steps: idempotent, journaled in the stack state, resumable after a kill.

A step is marked `started` before it runs and `done` after; a step found `started` was
interrupted and simply runs again (each runner is idempotent). Steps marked `always` are
checks that run on every deploy and report a change only when they made one, unless the
stack still runs exactly as when they last passed (stackctl.settled).
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
    """One bootstrap step's outcome and what it said."""

    step: str
    outcome: str  # "changed", "unchanged", "skipped"
    detail: str = ""


def active_steps(recipe: Recipe, context: Mapping[str, Any]) -> tuple[Step, ...]:
    """The steps whose `when` holds for these settings (a MariaDB step only with MariaDB)."""
    from stackctl.render import evaluate

    return tuple(s for s in recipe.bootstrap if evaluate(recipe, s.when, context))


def run_steps(
    steps: tuple[Step, ...],
    ctx: StepContext,
    on_step: Callable[[Step], Any] | None = None,
    settled: str | None = None,
) -> list[StepResult]:
    """Run the steps in order. `settled`: the stack's key when it runs as planned; an
    `always` check that passed under that same key is skipped (stackctl.settled)."""
    from stackctl.settled import is_settled

    state = ctx.stack.state
    results: list[StepResult] = []
    for step in steps:
        entry = state.journal.get(step.id, {})
        if entry.get("status") == "done" and not step.always:
            results.append(StepResult(step.id, "skipped", "done earlier"))
            continue
        if is_settled(state, step, settled):
            results.append(StepResult(step.id, "skipped", "passed, and nothing changed since"))
            continue
        if on_step:
            on_step(step)
        state.journal[step.id] = {**entry, "status": "started", "at": _now()}
        state.save()
        changed, detail = step_runner(step.kind)(step, ctx)
        state.journal[step.id] = {"status": "done", "at": _now(), "detail": detail}
        state.save()
        results.append(StepResult(step.id, "changed" if changed else "unchanged", detail))
        if changed:  # what the later checks saw last time may differ now
            settled = None
    return results


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
