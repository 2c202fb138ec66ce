"""Generic kinds: `exec` steps, and the `exec` / `add-fact` actions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stackctl.errors import StackctlError
from stackctl.schema import optional, required
from stackctl.steps import ActionResult, action_kind, container_name, step_kind

if TYPE_CHECKING:
    from stackctl.engine import Engine
    from stackctl.recipe import Action, Step
    from stackctl.stack import Stack
    from stackctl.steps import StepContext


@step_kind(
    "exec",
    {
        "service": required(str),
        "argv": required(list),
        "unless": optional(list),
        "user": optional(str),
    },
)
def exec_step(step: Step, ctx: StepContext) -> tuple[bool, str]:
    """Run a command in a running service, unless its `unless` check already succeeds."""
    container = container_name(ctx.stack, step.options["service"])
    unless = step.options.get("unless")
    if unless and ctx.engine.exec(container, unless).exit_code == 0:
        return False, "already done"
    result = ctx.engine.exec(container, step.options["argv"], user=step.options.get("user"))
    if result.exit_code != 0:
        raise StackctlError(
            f"step {step.id} failed with exit code {result.exit_code}: {result.output.strip()[-500:]}"
        )
    return True, "ran"


@action_kind("exec", {"service": required(str), "argv": required(list)})
def exec_action(stack: Stack, engine: Engine, action: Action, values: list[Any]) -> ActionResult:
    """Run a command in a service, attached to the terminal so prompts work."""
    from stackctl.render import expand  # rendering is loaded only when an action runs

    context = {
        **stack.context(),
        "arg": values[0] if values and action.argument_kind != "rest" else "",
    }
    argv = [expand(stack.recipe, a, context) for a in action.argv]
    if action.argument_kind == "rest":
        argv += [str(v) for v in values]
    code = engine.exec_attached(container_name(stack, action.service), argv)
    return ActionResult(f"{action.name} exited with {code}", code)


@action_kind("add-fact", {"fact": required(str), "restart": optional(list)})
def add_fact(stack: Stack, engine: Engine, action: Action, values: list[Any]) -> ActionResult:
    """Remember a value (e.g. an admin id) in the stack state, re-render, restart what reads it."""
    from stackctl.apply import apply, plan_to_apply

    value = values[0]
    current = list(stack.state.facts.get(action.fact, []))
    if value in current or value in stack.settings.get(action.fact, []):
        return ActionResult(f"{value} is already in {action.fact}; nothing changed")
    stack.state.facts[action.fact] = sorted([*current, value])
    apply(plan_to_apply(stack, engine))  # a conflict refuses before anything is written
    for service in action.restart:
        engine.restart(container_name(stack, service))
    restarted = f"; restarted {', '.join(action.restart)}" if action.restart else ""
    return ActionResult(f"added {value} to {action.fact}{restarted}")
