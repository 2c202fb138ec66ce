"""`stackctl network plan`."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Stack networks: subnets and fixed addresses.",
        rich_markup_mode=None,
        no_args_is_help=True,
    )
    app.add_typer(group, name="network")

    @group.command("plan")
    def plan(
        stacks: Annotated[
            list[str] | None,
            typer.Argument(help="Stacks (default: all configured, else all recipes)"),
        ] = None,
        json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Show each stack's subnet, gateway, dynamic range and fixed IPs, and whether the network exists."""
        from stackctl import console
        from stackctl.commands.options import site
        from stackctl.engine import Engine
        from stackctl.recipe import all_recipes
        from stackctl.stack import network_plan, open_stack
        from stackctl.views import print_table

        settings = site()
        engine = Engine()
        existing = {n.name: n.subnets for n in engine.networks()}
        rows = []
        for name in stacks or list(settings.stacks) or list(all_recipes()):
            stack = open_stack(name, settings)
            plan = network_plan(stack, existing)
            status = "exists" if plan.name in existing else "to create"
            rows.append({"stack": name, **plan.as_state(), "from": plan.source, "status": status})
        if json:
            console.print_json(rows)
            return
        print_table(
            "stack networks",
            [
                "stack",
                "network",
                "subnet",
                "gateway",
                "dynamic range",
                "fixed IPs",
                "from",
                "status",
            ],
            [
                [
                    r["stack"],
                    r["name"],
                    r["subnet"],
                    r["gateway"],
                    r["ip_range"],
                    ", ".join(f"{k}={v}" for k, v in r["ips"].items()),
                    r["from"],
                    r["status"],
                ]
                for r in rows
            ],
        )
