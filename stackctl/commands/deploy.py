"""`stackctl deploy`, `stackctl status`, `stackctl down`."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("deploy")
    def deploy(
        stacks: Annotated[list[str] | None, typer.Argument(help="Stack names, e.g. ente")] = None,
        all_stacks: Annotated[
            bool,
            typer.Option(
                "--all",
                help="Every stack enabled in stackctl.toml ([stacks.NAME] enabled = true): a reinstall",
            ),
        ] = False,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Show what would happen; change nothing")
        ] = False,
        force: Annotated[
            bool, typer.Option("--force", help="Overwrite files changed by hand (a backup is kept)")
        ] = False,
        wait: Annotated[
            int, typer.Option("--wait", help="Seconds to wait for the stack to become healthy")
        ] = 300,
        json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    ) -> None:
        """Write files, create secrets and the network, pull, bootstrap, start, and wait until healthy."""
        from contextlib import nullcontext

        from stackctl import console
        from stackctl.allocate import allocate_network
        from stackctl.commands.options import chosen_stacks, site
        from stackctl.deploy import deploy as run
        from stackctl.engine import open_engine
        from stackctl.locking import stack_lock
        from stackctl.stack import open_stack
        from stackctl.summary import print_report, report_json

        settings = site()
        from stackctl.shared import deploy_order

        # a stack that publishes a value goes before the stacks that read it
        names = deploy_order(chosen_stacks(settings, stacks, all_stacks, verb="deploy"))
        # validate every stack's settings before touching any of them
        for name in names:
            open_stack(name, settings)
        engine = open_engine()
        reports = []
        for name in names:
            # one stack lock at a time; its state is read inside the lock
            with nullcontext() if dry_run else stack_lock(settings, name):
                stack = open_stack(name, settings)
                if not dry_run:
                    allocate_network(stack, {n.name: n.subnets for n in engine.networks()})
                report = run(stack, engine, dry_run=dry_run, force=force, wait_seconds=wait)
            reports.append(report_json(report))
            if not json:
                print_report(stack, report)
        if json:
            console.print_json(reports[0] if len(reports) == 1 and not all_stacks else reports)

    @app.command("status")
    def status(
        stack: Annotated[
            str | None, typer.Argument(help="Stack name (default: every deployed stack)")
        ] = None,
        json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Containers of each stack: state, health, image and published ports."""
        from stackctl import console
        from stackctl.commands.options import site
        from stackctl.engine import open_engine
        from stackctl.recipe import all_recipes
        from stackctl.views import print_table

        settings = site()
        engine = open_engine()
        names = [stack] if stack else [n for n in all_recipes() if settings.stack_dir(n).is_dir()]
        if stack:
            from stackctl.recipe import get_recipe

            get_recipe(stack)
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
            console.info("no containers" + (f" for {stack}" if stack else ""))
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
    def down(stack: Annotated[str, typer.Argument(help="Stack name")]) -> None:
        """Stop and remove the stack's containers. Data, secrets, files and the network stay."""
        from stackctl import console
        from stackctl.commands.options import site
        from stackctl.engine import open_engine
        from stackctl.locking import stack_lock
        from stackctl.stack import open_stack

        settings = site()
        loaded = open_stack(stack, settings)
        if not (loaded.dir / "docker-compose.yml").exists():
            console.ok(f"{stack} has no compose file in {loaded.dir}; nothing to stop")
            return
        with stack_lock(settings, stack):
            loaded = open_stack(stack, settings)  # state is read again, inside the lock
            open_engine().compose_down(loaded.dir, loaded.names.project)
            loaded.state.deployed = ""
            loaded.state.save()
        console.ok(
            f"{stack} is down; data in {loaded.data_dir} and secrets in {loaded.dir}/.env are kept"
        )
