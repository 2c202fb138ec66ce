"""`stackctl plan` (what would change) and `stackctl render` (write it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from stackctl.files import FileChange
    from stackctl.network import NetworkPlan
    from stackctl.stack import Stack


def _plan(stack_name: str) -> tuple[Stack, NetworkPlan, list[FileChange]]:
    from stackctl.commands.options import site
    from stackctl.engine import open_engine
    from stackctl.stack import docker_networks_if_reachable, network_plan, open_stack, render_files

    stack = open_stack(stack_name, site())
    network = network_plan(stack, docker_networks_if_reachable(open_engine()))
    return stack, network, render_files(stack, network, stack.secrets())


def _show(changes: list[FileChange], stack: Stack, diff: bool) -> None:
    from rich.markup import escape

    from stackctl import console
    from stackctl import secrets as store
    from stackctl.masking import masked_diff

    secret_names = {*store.names(stack.recipe), *stack.secrets()} if diff else set()
    for change in changes:
        reason = f"  ({change.reason})" if change.reason else ""
        console.info(
            f"  [{change.action}]{change.action:>9}[/] {escape(change.file.path)}{escape(reason)}"
        )
        if diff and change.action in ("update", "conflict"):
            console.out.print(masked_diff(change, secret_names), markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan(
        stack: Annotated[str, typer.Argument(help="Stack name")],
        diff: Annotated[
            bool,
            typer.Option("--diff", help="Show a unified diff for changed files (secrets masked)"),
        ] = False,
        json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Render everything in memory and show, per file: create / identical / update / conflict."""
        from dataclasses import replace

        from stackctl import console
        from stackctl.deploy import plan_proxy_install

        loaded, network, changes = _plan(stack)
        # the proxy config deploy installs at the server's own path, shown with that path
        installed = [
            replace(c, file=replace(c.file, path=str(p.base / c.file.path)))
            for p in plan_proxy_install(loaded)
            for c in p.changes
        ]
        if json:
            console.print_json(
                {
                    "stack": stack,
                    "network": network.as_state(),
                    "files": [
                        {"path": c.file.path, "action": c.action, "reason": c.reason}
                        for c in [*changes, *installed]
                    ],
                }
            )
            return
        console.info(f"{stack}: files in {loaded.dir}")
        _show([*changes, *installed], loaded, diff)
        if all(c.action == "identical" for c in [*changes, *installed]):
            console.ok("nothing to change")

    @app.command("render")
    def render(
        stack: Annotated[str, typer.Argument(help="Stack name")],
        force: Annotated[
            bool, typer.Option("--force", help="Overwrite files changed by hand (a backup is kept)")
        ] = False,
    ) -> None:
        """Write the stack's files (compose, app configs, proxy snippet) and create missing
        secrets. Hand edits are conflicts."""
        from stackctl import console
        from stackctl import secrets as store
        from stackctl.allocate import allocate_network, docker_networks_or_none
        from stackctl.commands.options import site
        from stackctl.engine import open_engine
        from stackctl.files import apply_plan, refuse_conflicts
        from stackctl.locking import stack_lock
        from stackctl.stack import open_stack, render_files

        settings = site()
        open_stack(stack, settings)  # bad names and settings fail before anything is made
        docker_networks = docker_networks_or_none(open_engine())
        with stack_lock(settings, stack):
            loaded = open_stack(stack, settings)  # state is read again, inside the lock
            network = allocate_network(loaded, docker_networks)
            changes = render_files(loaded, network, loaded.secrets())
            if not force:
                refuse_conflicts(loaded.dir, changes)
            created = store.ensure(loaded.recipe, loaded.dir).created
            if created:  # like deploy: files holding secrets need the values just made
                changes = render_files(loaded, network, loaded.secrets())
            _show(changes, loaded, diff=False)
            backups = apply_plan(loaded.dir, changes, loaded.state.files, force=force)
            loaded.state.save()
        if created:
            console.ok(f"created {', '.join(created)} in {store.env_path(loaded.dir)}")
        for backup in backups:
            console.warn(f"kept your version as {backup}")
        if all(c.action == "identical" for c in changes):
            if not created:
                console.ok("nothing changed")
        else:
            console.ok(f"written to {loaded.dir}")
