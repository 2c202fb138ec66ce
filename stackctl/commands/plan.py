"""`stackctl plan` (what would change) and `stackctl render` (write the files)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

if TYPE_CHECKING:
    import typer

    from stackctl.commands._shapes import AllStacks, Stacks
    from stackctl.plan import StackPlan


def _show(plan: StackPlan, diff: bool) -> None:
    from stackctl import console
    from stackctl import secrets as store
    from stackctl.console import escape

    secret_names = {*store.names(plan.stack.recipe), *plan.secrets} if diff else set()
    for base, change in plan.all_files():
        # the proxy config deploy installs is shown at the server's own path
        shown = change.file.path if base == plan.stack.dir else str(base / change.file.path)
        reason = f"  ({change.reason})" if change.reason else ""
        console.info(f"  [{change.action}]{change.action:>9}[/] {escape(shown)}{escape(reason)}")
        if diff and change.action in ("update", "conflict"):
            from stackctl.masking import masked_diff

            console.literal(masked_diff(change, secret_names))


def _as_json(plan: StackPlan) -> dict[str, Any]:
    return {
        "stack": plan.stack.name,
        "network": plan.network.as_state(),
        "network_exists": plan.network_exists,
        "files": [
            {
                "path": change.file.path
                if base == plan.stack.dir
                else str(base / change.file.path),
                "action": change.action,
                "reason": change.reason,
            }
            for base, change in plan.all_files()
        ],
        "secrets_created": list(plan.secrets_created),
        "missing_images": None if plan.missing_images is None else list(plan.missing_images),
        "dirs": [str(d) for d in plan.dirs],
        "steps": [s.id for s in plan.steps],
        "warnings": list(plan.warnings),
        "postgres_major_changes": [c.as_json() for c in plan.major_changes],
    }


def plan(
    stacks: Stacks = None,
    all_stacks: AllStacks = False,
    diff: Annotated[
        bool,
        typer.Option("--diff", help="Show a unified diff for changed files (secrets masked)"),
    ] = False,
    json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Render everything in memory and show, per file: create / identical / update / conflict."""
    from stackctl import console
    from stackctl.commands.options import chosen_stacks, engine_or_unknown, site
    from stackctl.plan import plan_stack
    from stackctl.stack import open_stack

    settings = site()
    names = chosen_stacks(settings, stacks, all_stacks, verb="plan")
    loaded = [open_stack(name, settings) for name in names]
    engine = engine_or_unknown()
    plans = [plan_stack(stack, engine) for stack in loaded]
    if json:
        shown = [_as_json(p) for p in plans]
        console.print_json(shown)  # a list for one stack too, as deploy --json
        return
    for planned in plans:
        console.info(f"{planned.stack.name}: files in {planned.stack.dir}")
        for warning in planned.warnings:
            console.warn(warning)
        _show(planned, diff)
        if planned.secrets_created:
            console.info(f"  would create secrets: {', '.join(planned.secrets_created)}")
        if not planned.files_changed():
            console.ok("nothing to change")


def render(
    stacks: Stacks = None,
    all_stacks: AllStacks = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite files changed by hand (a backup is kept)")
    ] = False,
) -> None:
    """Write the stacks' files (compose, app configs, proxy snippet) and create missing
    secrets, as deploy would, without touching the engine. Hand edits are conflicts."""
    from dataclasses import replace

    from stackctl import console
    from stackctl.apply import apply, plan_to_apply
    from stackctl.commands.options import chosen_stacks, site
    from stackctl.engine import open_engine, reachable
    from stackctl.locking import stack_lock
    from stackctl.secrets import env_path
    from stackctl.stack import open_stack

    settings = site()
    names = chosen_stacks(settings, stacks, all_stacks, verb="render")
    for name in names:  # bad names and settings fail before anything is made
        open_stack(name, settings)
    engine = reachable(open_engine())  # only to check the subnet against Docker networks
    for name in names:
        with stack_lock(settings, name):
            # the stack folder only: installing the proxy config where the server
            # reads it (under proxy_root) is deploy's step; an unchecked subnet is
            # reported by the allocation
            planned = replace(plan_to_apply(open_stack(name, settings), engine), proxy=[])
            applied = apply(planned, force=force)
        _show(planned, diff=False)
        if applied.secrets_created:
            console.ok(
                f"created {', '.join(applied.secrets_created)} in {env_path(planned.stack.dir)}"
            )
        for backup in applied.backups:
            console.warn(f"kept your version as {backup}")
        if planned.files_changed():
            console.ok(f"written to {planned.stack.dir}")
        elif not applied.secrets_created:
            console.ok(f"{name}: nothing changed")


def register(app: typer.Typer) -> None:
    # the annotations above name typer; they are read here, when typer builds the commands,
    # so running a command from its cached description never imports typer
    global typer, AllStacks, Stacks
    import typer

    from stackctl.commands._shapes import AllStacks, Stacks

    app.command("plan")(plan)
    app.command("render")(render)
