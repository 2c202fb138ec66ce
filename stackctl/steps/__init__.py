"""Runners for bootstrap step kinds and action kinds, one module per family.

A recipe names a kind (`kind = "s3-buckets"`); the module that implements it registers a
runner here. Every module in this package (the generic kinds) is imported on first use; a
recipe's own kinds live in its folder (stacks/<app>/kinds.py) and register when it loads.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stackctl import registry
from stackctl.errors import RecipeError
from stackctl.schema import Schema

if TYPE_CHECKING:
    from stackctl.engine import Engine
    from stackctl.network import NetworkPlan
    from stackctl.recipe import Action, Step
    from stackctl.stack import Stack


@dataclass
class StepContext:
    """What a bootstrap step kind is given: the stack, the engine, its network and secrets."""

    stack: Stack
    engine: Engine
    network: NetworkPlan
    secrets: Mapping[str, str]


@dataclass(frozen=True)
class ActionResult:
    """What a recipe action reports: a message, an exit code, data for --json."""

    message: str
    exit_code: int = 0
    data: dict[str, Any] | None = None  # what `run --json` prints, for the actions that say more


# A step runner returns (changed, detail); it must be idempotent.
StepRunner = Callable[["Step", StepContext], tuple[bool, str]]
# An action runner gets the validated arguments.
ActionRunner = Callable[["Stack", "Engine", "Action", list[Any]], ActionResult]

STEP_RUNNERS: registry.Registry[StepRunner] = registry.Registry()
ACTION_RUNNERS: registry.Registry[ActionRunner] = registry.Registry()
# the options each kind takes, checked when a recipe loads (stackctl.schema)
STEP_OPTIONS: registry.Registry[Schema] = registry.Registry()
ACTION_OPTIONS: registry.Registry[Schema] = registry.Registry()
# kinds that check the host, not the containers: they run on every deploy (stackctl.settled)
HOST_KINDS: set[str] = set()
_loaded = False


def step_kind(
    kind: str, options: Schema | None = None, host: bool = False
) -> Callable[[StepRunner], StepRunner]:
    """Register a step runner. `host=True`: it checks only host files and folders."""

    def register(runner: StepRunner) -> StepRunner:
        registry.add(STEP_RUNNERS, "step kind", kind, runner)
        STEP_OPTIONS[kind] = dict(options or {})
        if host:
            HOST_KINDS.add(kind)
        return runner

    return register


def host_kind(kind: str) -> bool:
    step_runner(kind)  # loads the module that registers it
    return kind in HOST_KINDS


def action_kind(kind: str, options: Schema | None = None) -> Callable[[ActionRunner], ActionRunner]:
    def register(runner: ActionRunner) -> ActionRunner:
        registry.add(ACTION_RUNNERS, "action kind", kind, runner)
        ACTION_OPTIONS[kind] = dict(options or {})
        return runner

    return register


def load_generic() -> None:
    """Import the generic kinds (every module in this package) once."""
    global _loaded
    if not _loaded:
        for module in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{module.name}")
        _loaded = True


def step_runner(kind: str) -> StepRunner:
    load_generic()
    if kind not in STEP_RUNNERS:
        raise RecipeError(
            f"no runner for bootstrap step kind {kind!r}",
            "known: " + ", ".join(sorted(STEP_RUNNERS)),
        )
    return STEP_RUNNERS[kind]


def action_runner(kind: str) -> ActionRunner:
    load_generic()
    if kind not in ACTION_RUNNERS:
        raise RecipeError(
            f"no runner for action kind {kind!r}", "known: " + ", ".join(sorted(ACTION_RUNNERS))
        )
    return ACTION_RUNNERS[kind]


def container_name(stack: Stack, service: str) -> str:
    return stack.names.container(service)
