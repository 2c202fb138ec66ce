"""Write a plan: the one place stackctl changes a stack's secrets, files and state.

Order matters for a run that is killed or fails part-way (disk full, a folder that is a
file): conflicts are refused before anything is written; the digests about to be written
are journaled in the state first (`pending`), so a file written just before the kill is
recognised as stackctl's by the next run, never reported as a hand edit; temp files a
killed run left beside our targets are removed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from stackctl import secret_files
from stackctl.allocate import allocate_network, docker_networks_or_none
from stackctl.atomic import remove_stale
from stackctl.envfile import merge_env
from stackctl.files import FileChange, apply_plan, digest, refuse_conflicts
from stackctl.plan import StackPlan, plan_stack
from stackctl.secrets import env_path
from stackctl.stack import Stack
from stackctl.state import State

if TYPE_CHECKING:
    from stackctl.engine import Engine


@dataclass(frozen=True)
class Applied:
    """What apply() changed: kept hand edits, secrets and data folders it created."""

    backups: list[str]
    secrets_created: tuple[str, ...]
    dirs_created: list[str]


def plan_to_apply(stack: Stack, engine: Engine | None) -> StackPlan:
    """The plan a writing command applies. The subnet is allocated first (saved under the
    site lock when the engine checked it), so two stacks planned at once never share one.

    The caller holds the stack's lock."""
    allocate_network(stack, docker_networks_or_none(engine))
    return plan_stack(stack, engine)


def apply(plan: StackPlan, force: bool = False) -> Applied:
    """Secrets, files (the installed proxy config too), data folders and state, as planned.

    The caller holds the stack's lock."""
    stack = plan.stack
    groups = plan.file_groups()
    if not force:  # a refused run changes nothing
        for base, changes in groups:
            refuse_conflicts(base, changes)
    env = env_path(stack.dir)
    remove_stale(
        [
            env,
            stack.state.path,
            stack.state.pending_path,
            *(base / c.file.path for base, c in plan.all_files()),
        ]
    )

    def write_secrets() -> None:
        if plan.new_secrets:
            merge_env(env, plan.new_secrets)
        if stack.recipe.secret_files:  # creates the missing ones, sets owner and mode
            secret_files.ensure(stack.recipe, stack.dir)

    backups = write_files(stack.state, groups, force, first=write_secrets)
    created = []
    for folder in plan.dirs:
        folder.mkdir(parents=True, exist_ok=True)
        created.append(str(folder))
    return Applied(backups, plan.secrets_created, created)


def write_files(
    state: State,
    groups: Sequence[tuple[Path, list[FileChange]]],
    force: bool = False,
    first: Callable[[], None] | None = None,
) -> list[str]:
    """Write planned file changes, journaled in `state`; returns the backups made.

    A run that fails (rather than being killed) records what it did write and drops the
    journal, so a refused or failed write leaves the bookkeeping as it was."""
    before = state.text()
    digests = {
        c.file.path: digest(c.file.content)
        for _, changes in groups
        for c in changes
        if c.action != "identical"
    }
    if digests:
        state.begin_writes(digests)
    try:
        if first is not None:
            first()
        backups = []
        for base, changes in groups:
            backups += apply_plan(base, changes, state.files, force=force)
    finally:
        if state.text() != before:
            state.save()
        if digests:
            state.end_writes()
    return backups
