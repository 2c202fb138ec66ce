"""`stackctl network plan` and `stackctl network release`."""

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
        from stackctl.engine import open_engine
        from stackctl.recipe import all_recipes
        from stackctl.stack import network_plan, open_stack
        from stackctl.views import print_table

        settings = site()
        engine = open_engine()
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

    @group.command("release")
    def release(stack: Annotated[str, typer.Argument(help="Stack name")]) -> None:
        """Forget a stack's saved subnet, so the next render or deploy chooses again.

        Only for a stack without a network: refused while its Docker network exists."""
        from stackctl import console
        from stackctl.commands.options import site
        from stackctl.engine import open_engine
        from stackctl.errors import NetworkError
        from stackctl.locking import site_lock, stack_lock
        from stackctl.stack import open_stack

        settings = site()
        loaded = open_stack(stack, settings)
        if not loaded.state.network:
            console.ok(f"{stack} has no saved subnet; nothing to release")
            return
        network = loaded.names.network
        with stack_lock(settings, stack), site_lock(settings):
            loaded = open_stack(stack, settings)  # state is read again, inside the locks
            saved = loaded.state.network.get("subnet", "?")
            existing = open_engine().network(network)  # no engine: an error, never a guess
            if existing is not None:
                raise NetworkError(
                    f"Docker network {network} of {stack} exists; its subnet {saved} stays allocated",
                    f"stop the stack (`stackctl down {stack}`) and remove the network "
                    f"(`docker network rm {network}`) first",
                )
            loaded.state.network = {}
            loaded.state.save()
        console.ok(
            f"released subnet {saved} of {stack}; the next render or deploy chooses one again"
        )
