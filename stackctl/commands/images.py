"""`stackctl images list|pull`."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="The images each stack runs, after the [images] override map.",
        rich_markup_mode=None,
        no_args_is_help=True,
    )
    app.add_typer(group, name="images")

    def _stacks(stack: str | None) -> list[str]:
        from stackctl.recipe import all_recipes, get_recipe

        return [get_recipe(stack).name] if stack else list(all_recipes())

    @group.command("list")
    def list_images(
        stack: Annotated[
            str | None, typer.Argument(help="Stack name (default: all recipes)")
        ] = None,
        json: Annotated[bool, typer.Option("--json")] = False,
        offline: Annotated[
            bool, typer.Option("--offline", help="Do not ask the engine whether images are present")
        ] = False,
    ) -> None:
        """Upstream image, the image actually used, and whether it is present locally."""
        from stackctl import console
        from stackctl.commands.options import site
        from stackctl.render import expand
        from stackctl.stack import open_stack
        from stackctl.views import print_table

        settings = site()
        engine = None
        if not offline:
            from stackctl.engine import open_engine

            engine = open_engine()
        rows = []
        for name in _stacks(stack):
            loaded = open_stack(name, settings)
            context = loaded.context()
            for service, used in loaded.images().items():
                spec = loaded.recipe.service(service)
                upstream = expand(
                    loaded.recipe, spec.reference(expand(loaded.recipe, spec.tag, context)), context
                )
                present = engine.image_id(used) is not None if engine else None
                rows.append(
                    {
                        "stack": name,
                        "service": service,
                        "upstream": upstream,
                        "image": used,
                        "present": present,
                        "digests": list(engine.image_digests(used)) if engine and present else [],
                    }
                )
        if json:
            console.print_json(rows)
            return
        print_table(
            "images",
            ["stack", "service", "upstream", "used", "present"],
            [
                [
                    r["stack"],
                    r["service"],
                    r["upstream"],
                    r["image"] if r["image"] != r["upstream"] else "(same)",
                    {True: "yes", False: "no", None: "?"}[r["present"]],
                ]
                for r in rows
            ],
        )

    @group.command("pull")
    def pull(
        stack: Annotated[
            str | None, typer.Argument(help="Stack name (default: all recipes)")
        ] = None,
    ) -> None:
        """Pull every image of the stack (override map applied), with progress bars."""
        from stackctl import console
        from stackctl.commands.options import site
        from stackctl.engine import open_engine
        from stackctl.pull import pull_missing
        from stackctl.stack import open_stack

        settings = site()
        engine = open_engine()
        for name in _stacks(stack):
            pulled = pull_missing(engine, open_stack(name, settings).images(), always=True)
            console.ok(f"{name}: pulled {len(pulled)} image(s)")
