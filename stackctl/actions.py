"""Recipe actions: validate the arguments, then hand over to the kind's runner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stackctl.errors import SettingsError, StackctlError
from stackctl.schema import optional
from stackctl.steps import ActionResult, action_kind, action_runner
from stackctl.values import KINDS, ValueProblem

if TYPE_CHECKING:
    from collections.abc import Sequence

    from stackctl.engine import Engine
    from stackctl.recipe import Action
    from stackctl.stack import Stack


def check_argument(action: Action, args: Sequence[str]) -> list[Any]:
    if action.argument_kind == "rest":
        return list(args)
    if not action.argument:
        if args:
            raise StackctlError(f"action {action.name} takes no argument")
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
        return [KINDS[action.argument_kind](raw)]
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
    return action_runner(action.kind)(stack, engine, action, values)


@action_kind(
    "deploy", {"report_steps": optional(list), "done": optional(str), "nothing": optional(str)}
)
def deploy_action(stack: Stack, engine: Engine, action: Action, values: list[Any]) -> ActionResult:
    """A deploy that reports what the named steps did, e.g. an upgrade whose migration steps
    take the upgrade path. Lives here, above the deploy flow, so no step module imports it."""
    from stackctl.apply import plan_to_apply
    from stackctl.deploy import deploy
    from stackctl.render import expand

    report = deploy(plan_to_apply(stack, engine), engine)
    wanted = set(action.options.get("report_steps", ()))
    ran = [s.detail for s in report.steps if s.step in wanted and s.outcome == "changed"]
    context = stack.context()
    if not ran:
        return ActionResult(
            expand(stack.recipe, action.options.get("nothing", "nothing to do"), context)
        )
    restarted = (
        f"; restarted {', '.join(report.containers_changed)}" if report.containers_changed else ""
    )
    done = expand(stack.recipe, action.options.get("done", "done"), context)
    return ActionResult(f"{done}: {'; '.join(ran)}{restarted}")


@action_kind("postgres-upgrade")
def postgres_upgrade_action(
    stack: Stack, engine: Engine, action: Action, values: list[Any]
) -> ActionResult:
    """Dump, load into the new major on a fresh folder, compare, switch, then deploy: the
    steps are in stackctl/backup/pg_upgrade.py; the deploy that follows lives here too."""
    from stackctl import console
    from stackctl.apply import plan_to_apply
    from stackctl.backup.pg_upgrade import finish_switches, upgrade_folders
    from stackctl.deploy import deploy

    for folder in finish_switches(stack):
        console.step(f"finished switching {folder}, which a stopped run had left halfway")
    planned = plan_to_apply(stack, engine)
    upgraded = upgrade_folders(stack, engine, list(planned.major_changes), wait_seconds=300)
    if upgraded:
        planned = plan_to_apply(stack, engine)  # the folders hold the new major now
    report = deploy(planned, engine)
    summary = {
        "stack": stack.name,
        "upgraded": [u.as_json() for u in upgraded],
        "containers_changed": report.containers_changed,
    }
    if not upgraded:
        said = "every Postgres data folder already holds its image's major; deployed"
        return ActionResult(said, data={**summary, "message": said})
    said = "; ".join(
        f"{u.service}: Postgres {u.old_major} -> {u.new_major}, {u.rows} rows in {u.tables} "
        f"tables of {u.databases} databases equal; the old folder is kept as {u.kept} "
        "(remove it once the new one serves you)"
        for u in upgraded
    )
    return ActionResult(said, data={**summary, "message": said})
