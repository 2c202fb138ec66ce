"""Recipe actions: named operations on a deployed stack (promote an admin, run a CLI)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stackctl.engine import Engine
from stackctl.errors import SettingsError, StackctlError
from stackctl.files import apply_plan
from stackctl.recipe import Action
from stackctl.render import expand
from stackctl.stack import Stack, network_plan, render_files
from stackctl.values import KINDS, ValueProblem


@dataclass(frozen=True)
class ActionResult:
    message: str
    exit_code: int = 0


def check_argument(action: Action, args: Sequence[str]) -> list[str]:
    if action.argument_kind == "rest":
        return list(args)
    if not action.argument:
        return []
    if len(args) != 1:
        raise StackctlError(
            f"action {action.name} takes one argument: {action.argument}",
            f"e.g. stackctl run STACK {action.name} {action.argument}",
        )
    raw: object = args[0]
    if action.argument_kind in ("int", "port"):
        try:
            raw = int(args[0])
        except ValueError:
            raise StackctlError(
                f"{action.argument} must be a whole number, not {args[0]!r}"
            ) from None
    try:
        return [str(KINDS[action.argument_kind](raw))]
    except ValueProblem as exc:
        raise StackctlError(
            f"{action.argument}: {exc.problem}", f"allowed: {exc.allowed}"
        ) from None


def run_action(stack: Stack, engine: Engine, action: Action, args: Sequence[str]) -> ActionResult:
    values = check_argument(action, args)
    if action.requires and not stack.settings.get(action.requires):
        raise SettingsError(
            f"action {action.name} needs stacks.{stack.name}.{action.requires} to be set",
            f"set it in {stack.site.where()}, then `stackctl deploy {stack.name}`",
        )
    if action.kind == "add-fact":
        return _add_fact(
            stack, engine, action, int(values[0]) if action.argument_kind == "int" else values[0]
        )
    argv = [
        expand(stack.recipe, a, {**stack.context(), "arg": values[0] if values else ""})
        for a in action.argv
    ]
    if action.argument_kind == "rest":
        argv += values
    code = engine.exec_attached(f"{stack.name}-{action.service}", argv)
    return ActionResult(f"{action.name} exited with {code}", code)


def _add_fact(stack: Stack, engine: Engine, action: Action, value: object) -> ActionResult:
    current = list(stack.state.facts.get(action.fact, []))
    if value in current or value in stack.settings.get(action.fact, []):
        return ActionResult(f"{value} is already in {action.fact}; nothing changed")
    stack.state.facts[action.fact] = sorted([*current, value])
    network = network_plan(stack, {n.name: n.subnets for n in engine.networks()})
    changes = render_files(stack, network, stack.secrets())
    apply_plan(stack.dir, changes, stack.state.files)  # conflicts refuse before anything is written
    stack.state.save()
    for service in action.restart:
        engine.restart(f"{stack.name}-{service}")
    restarted = f"; restarted {', '.join(action.restart)}" if action.restart else ""
    return ActionResult(f"added {value} to {action.fact}{restarted}")
