"""When an `always` bootstrap check may be skipped: the stack runs as it did when it passed.

An `always` step that talks to the containers (a Jellyfin API check, a Rails migration
check, a Postgres role check) guards state that lives in the containers and their volumes.
After a deploy whose checks all passed, the stack's key is recorded in each such step's
journal entry: the deploy fingerprint (files, secrets, image ids), the settings, facts and
site, the steps' own options, and every container's id and start time. A later deploy that
computes the same key skips those checks, as nothing they look at can have changed without
a file, a setting, an image or a container changing too. A restart, a recreated container,
an edited file or a new setting changes the key, and the checks run again.

Steps of host-side kinds (file ownership) always run: anyone can chown a folder while the
containers keep running, and those checks are cheap.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

import stackctl
from stackctl.steps import host_kind

if TYPE_CHECKING:
    from stackctl.engine import Engine
    from stackctl.plan import StackPlan
    from stackctl.recipe import Step
    from stackctl.state import State

SETTLED = "settled"  # the journal entry's key


def skippable(step: Step) -> bool:
    """An `always` step whose result only containers, files and settings can change."""
    return step.always and not host_kind(step.kind)


def settled_key(plan: StackPlan, engine: Engine, fingerprint: str) -> str:
    text = "\n".join(key_parts(plan, engine, fingerprint))
    return hashlib.sha256(text.encode()).hexdigest()


def key_parts(plan: StackPlan, engine: Engine, fingerprint: str) -> list[str]:
    """What the key is made of, one line each."""
    stack = plan.stack
    parts = [
        f"stackctl {stackctl.__version__} {fingerprint}",
        "settings " + json.dumps(stack.settings, sort_keys=True, default=str),
        "facts " + json.dumps(stack.state.facts, sort_keys=True, default=str),
        f"site {stack.site!r}",
    ]
    for step in plan.active_steps:
        options = json.dumps(step.options, sort_keys=True, default=str)
        parts.append(f"step {step.id} {step.kind} {options}")
    # the planned services' containers (one-off `compose run` containers come and go)
    planned = {stack.names.container(service) for service in plan.images}
    for container in engine.project_containers(stack.names.project):
        if container.name in planned:
            state = (engine.container(container.id) or {}).get("State") or {}
            started = state.get("StartedAt")
            parts.append(f"container {container.name} {container.id} {container.state} {started}")
    return sorted(parts)


def is_settled(state: State, step: Step, key: str | None) -> bool:
    entry = state.journal.get(step.id, {})
    return (
        key is not None
        and skippable(step)
        and entry.get("status") == "done"
        and entry.get(SETTLED) == key
    )


def record_settled(state: State, steps: tuple[Step, ...], key: str) -> None:
    """Mark the checks that passed in this deploy as passed for this key."""
    changed = False
    for step in steps:
        entry = state.journal.get(step.id)
        if skippable(step) and entry and entry.get("status") == "done":
            if entry.get(SETTLED) != key:
                state.journal[step.id] = {**entry, SETTLED: key}
                changed = True
    if changed:
        state.save()
