"""What `stackctl --help` lists: each command's one-sentence summary, grouped by task.

click cuts a docstring's first sentence to fit the terminal ("Run a recipe action, e.g."),
so every command gets a whole sentence short enough for 80 columns. A command missing here
still shows, under "Other commands", with its docstring's first line.
"""

from __future__ import annotations

from typing import Any

PANELS = (
    "Getting started",
    "Deploy and operate",
    "Inspect",
    "Secrets and networks",
    "Backup and restore",
)
SUMMARIES: dict[str, tuple[str, str]] = {
    "init": ("Getting started", "Write a commented starter stackctl.toml."),
    "config": ("Getting started", "Show which settings file is in effect."),
    "recipes": ("Getting started", "List the recipes, or show or check one."),
    "plan": ("Deploy and operate", "Show what a deploy would change, file by file."),
    "deploy": ("Deploy and operate", "Deploy stacks and wait until they are healthy."),
    "render": ("Deploy and operate", "Write the stacks' files without the engine."),
    "down": ("Deploy and operate", "Stop and remove the stacks' containers."),
    "run": ("Deploy and operate", "Run one of a recipe's actions (see recipes show)."),
    "proxy": ("Deploy and operate", "Print or write the reverse-proxy config."),
    "host-snippets": ("Deploy and operate", "Print host config lines for a stack's subnet."),
    "status": ("Inspect", "Show containers: state, health, image and ports."),
    "logs": ("Inspect", "Show container logs, colour codes stripped."),
    "extract": ("Inspect", "Find values such as login codes in a log."),
    "images": ("Inspect", "List or pull the images each stack runs."),
    "secrets": ("Secrets and networks", "Create, show, set and rotate stack secrets."),
    "network": ("Secrets and networks", "Plan or release stack subnets."),
    "backup": ("Backup and restore", "Write one encrypted archive of stacks and data."),
    "restore": ("Backup and restore", "Check an archive, then put its stacks back."),
}


def apply(app: Any) -> None:
    """Set the summary and the panel of every registered command and group."""
    for info in [*app.registered_commands, *app.registered_groups]:
        name = info.name or (
            info.typer_instance.info.name if hasattr(info, "typer_instance") else None
        )
        if name in SUMMARIES:
            info.rich_help_panel, info.short_help = SUMMARIES[name]
        else:
            info.rich_help_panel = "Other commands"


def grouped_group_class() -> Any:
    """A click group whose command list is split into the panels above, in that order."""
    import typer.core

    class GroupedHelp(typer.core.TyperGroup):
        def format_commands(self, ctx: Any, formatter: Any) -> None:
            sections: dict[str, list[tuple[str, str]]] = {}
            for name in self.list_commands(ctx):
                command = self.get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                panel = getattr(command, "rich_help_panel", None) or "Other commands"
                summary = command.get_short_help_str(limit=formatter.width)
                sections.setdefault(panel, []).append((name, summary))
            for panel in [*PANELS, *sorted(set(sections) - set(PANELS))]:
                if panel in sections:
                    with formatter.section(panel):
                        formatter.write_dl(sections[panel])

    return GroupedHelp
