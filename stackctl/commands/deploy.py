"""`stackctl deploy`, `stackctl status`, `stackctl down`: several stacks, or --all."""

from __future__ import annotations

from typing import Annotated

import typer

from stackctl.commands._shapes import AllStacks, Stacks


def register(app: typer.Typer) -> None:
    @app.command("deploy")
    def deploy(
        stacks: Stacks = None,
        all_stacks: AllStacks = False,
        dry_run: Annotated[
            bool,
            typer.Option(
                "--dry-run", help="Show what would happen; change nothing (no engine needed)"
            ),
        ] = False,
        force: Annotated[
            bool, typer.Option("--force", help="Overwrite files changed by hand (a backup is kept)")
        ] = False,
        wait: Annotated[
            int, typer.Option("--wait", help="Seconds to wait for the stack to become healthy")
        ] = 300,
        recheck: Annotated[
            bool,
            typer.Option(
                "--recheck",
                help="Run every bootstrap check, even on a stack that runs as when they passed",
            ),
        ] = False,
        json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
        no_backup: Annotated[
            bool,
            typer.Option(
                "--no-backup",
                help="Skip the backup taken before an image of a stack with a database changes",
            ),
        ] = False,
    ) -> None:
        """Write files, create secrets and the network, pull, bootstrap, start, and wait until healthy."""
        from stackctl import console
        from stackctl.apply import plan_to_apply
        from stackctl.backup.pg_major import refuse_major_changes
        from stackctl.commands.options import chosen_stacks, engine_or_unknown, site
        from stackctl.deploy import deploy as run
        from stackctl.deploy import dry_run as what_if
        from stackctl.engine import open_engine
        from stackctl.locking import stack_lock
        from stackctl.plan import plan_stack
        from stackctl.stack import open_stack
        from stackctl.summary import print_report, report_json

        settings = site()
        if settings.path is None and not dry_run:
            console.warn(
                "no stackctl.toml found: deploying with the built-in defaults "
                f"(domain {settings.domain}); `stackctl init` writes one, `stackctl config` "
                "says where it is looked for"
            )
        from stackctl.shared import deploy_order

        # a stack that publishes a value goes before the stacks that read it
        names = deploy_order(chosen_stacks(settings, stacks, all_stacks, verb="deploy"))
        # validate every stack's settings before touching any of them
        for name in names:
            open_stack(name, settings)
        reports = []
        if dry_run:
            engine = engine_or_unknown()
            for name in names:
                report = what_if(plan_stack(open_stack(name, settings), engine))
                reports.append(report)
                if not json:
                    print_report(report)
        else:
            engine = open_engine()
            for name in names:
                # one stack lock at a time; its state is read inside the lock
                with stack_lock(settings, name):
                    stack = open_stack(name, settings)
                    planned = plan_to_apply(stack, engine)
                    refuse_major_changes(planned)  # before the backup a refused run needs not
                    if not no_backup:
                        from stackctl.backup.before_change import backup_before_change

                        backup_before_change(planned, engine)
                    report = run(planned, engine, force=force, wait_seconds=wait, recheck=recheck)
                reports.append(report)
                if not json:
                    print_report(report)
        if json:
            shown = [report_json(r) for r in reports]
            console.print_json(shown)  # a list, for one stack or many

    @app.command("status")
    def status(
        stacks: Annotated[
            list[str] | None,
            typer.Argument(help="Stack names (default: every stack with a folder here)"),
        ] = None,
        all_stacks: AllStacks = False,
        json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Containers of each stack: state, health, image and published ports."""
        from stackctl import console
        from stackctl.commands.options import chosen_stacks, site
        from stackctl.engine import open_engine
        from stackctl.recipe import all_recipes, get_recipe
        from stackctl.views import print_table

        settings = site()
        if stacks or all_stacks:
            names = chosen_stacks(settings, stacks, all_stacks, verb="show")
            for name in names:
                get_recipe(name)
        else:
            names = [n for n in all_recipes() if settings.stack_dir(n).is_dir()]
        engine = open_engine()
        rows = []
        for name in names:
            for c in engine.project_containers(settings.names(name).project):
                rows.append(
                    {
                        "stack": name,
                        "service": c.service,
                        "container": c.name,
                        "state": c.state,
                        "health": c.health,
                        "ports": list(c.ports),
                    }
                )
        if json:
            console.print_json(rows)
            return
        if not rows:
            console.info("no containers" + (f" for {', '.join(stacks)}" if stacks else ""))
            return
        print_table(
            "stacks",
            ["stack", "service", "container", "state", "health", "ports"],
            [
                [
                    r["stack"],
                    r["service"],
                    r["container"],
                    r["state"],
                    r["health"],
                    ", ".join(r["ports"]),
                ]
                for r in rows
            ],
        )

    @app.command("down")
    def down(stacks: Stacks = None, all_stacks: AllStacks = False) -> None:
        """Stop and remove the stacks' containers. Data, secrets, files and the network stay."""
        from stackctl import console
        from stackctl.commands.options import chosen_stacks, site
        from stackctl.engine import open_engine
        from stackctl.locking import stack_lock
        from stackctl.stack import open_stack

        settings = site()
        names = chosen_stacks(settings, stacks, all_stacks, verb="stop")
        loaded = [open_stack(name, settings) for name in names]
        engine = open_engine()
        for stack in loaded:
            if not (stack.dir / "docker-compose.yml").exists():
                console.ok(f"{stack.name} has no compose file in {stack.dir}; nothing to stop")
                continue
            with stack_lock(settings, stack.name):
                stack = open_stack(stack.name, settings)  # state is read again, inside the lock
                engine.compose_down(stack.dir, stack.names.project)
                stack.state.deployed = ""
                stack.state.save()
            console.ok(
                f"{stack.name} is down; data in {stack.data_dir} and secrets in {stack.dir}/.env are kept"
            )
