"""`stackctl config`: which settings file is in effect, and where its values point."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

if TYPE_CHECKING:
    import typer


def config(
    json: Annotated[bool, typer.Option("--json", help="Print it as JSON")] = False,
) -> None:
    """Say which stackctl.toml is in effect (or that the built-in defaults are), the order
    it is looked for in, and where stacks, data and proxy files go."""
    from stackctl import console
    from stackctl.commands.options import site
    from stackctl.console import escape
    from stackctl.settings import SYSTEM_CONFIG

    settings = site()
    searched = ["--config PATH", "$STACKCTL_CONFIG", "./stackctl.toml", str(SYSTEM_CONFIG)]
    facts = {
        "file": str(settings.path) if settings.path else None,
        "found_by": settings.source,
        "search_order": searched,
        "domain": settings.domain,
        "stacks_root": settings.stacks_root,
        "stack_folder": str(settings.stack_dir("<stack>")),
        "data_root": settings.data_root,
        "data_folder": str(settings.data_dir("<stack>")),
        "proxy": settings.proxy,
        "proxy_root": settings.proxy_root,
        "recipe_paths": list(settings.recipe_paths),
        "enabled_stacks": settings.enabled_stacks(),
    }
    if json:
        console.print_json(facts)
        return
    if settings.path:
        console.info(f"settings file: {escape(str(settings.path))} (found by {settings.source})")
    else:
        console.info("settings file: none found, so the built-in defaults are in effect")
        console.info("  `stackctl init` writes a commented stackctl.toml to start from")
    console.info("  looked for in order: " + escape(", ".join(searched)))
    for key in ("domain", "stack_folder", "data_folder", "proxy", "proxy_root"):
        console.info(f"{key}: {escape(str(facts[key]))}")
    enabled = ", ".join(facts["enabled_stacks"]) or "none (deploy --all does nothing)"
    console.info(f"enabled stacks: {escape(enabled)}")


def register(app: typer.Typer) -> None:
    # the annotations above name typer; they are read here, when typer builds the command,
    # so running a command from its cached description never imports typer
    global typer
    import typer

    app.command("config")(config)
