"""`stackctl recipes`, `stackctl recipes show NAME` and `stackctl recipes check PATH`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

if TYPE_CHECKING:
    import typer


def recipes(
    ctx: typer.Context,
    json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """List every recipe: name, app version and services."""
    if ctx.invoked_subcommand:
        return
    from stackctl import console
    from stackctl.commands.options import site
    from stackctl.recipe import all_recipes
    from stackctl.views import print_table

    site()  # the site's recipe_paths add recipes

    if json:
        console.print_json(
            [
                {
                    "name": r.name,
                    "title": r.title,
                    "app_version": r.app_version,
                    "services": [s.name for s in r.services],
                }
                for r in all_recipes().values()
            ]
        )
        return
    print_table(
        "recipes",
        ["recipe", "app version", "services", "description"],
        [
            [
                recipe.name,
                recipe.app_version,
                ", ".join(s.name for s in recipe.services),
                recipe.description,
            ]
            for recipe in all_recipes().values()
        ],
    )


def show(
    name: Annotated[str, typer.Argument(help="Recipe name")],
    json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Settings, secrets (names only), network, routes, bootstrap steps, extractors and actions."""
    from stackctl import console
    from stackctl.commands.options import site
    from stackctl.recipe import get_recipe
    from stackctl.views import recipe_details

    settings = site()
    recipe = get_recipe(name)
    details = recipe_details(recipe, settings)
    if json:
        console.print_json(details)
        return
    from stackctl.views import print_recipe

    print_recipe(details)


def check(
    paths: Annotated[
        list[Path], typer.Argument(help="Recipe folders (or folders of recipe folders)")
    ],
) -> None:
    """Check recipe folders: every problem, with its file and key; exit 1 if any."""
    from stackctl import console
    from stackctl.console import escape
    from stackctl.errors import RecipeError
    from stackctl.recipe_check import check_folder, check_folder_once

    folders = [
        folder
        for path in paths
        for folder in (
            [path]
            if (path / "recipe.toml").is_file() or not path.is_dir()
            else sorted(f for f in path.iterdir() if (f / "recipe.toml").is_file()) or [path]
        )
    ]
    # one folder's check reads only its files and stackctl's, so a pass is kept; with several,
    # the kinds each registers may clash with a later one's, so all are checked every time
    checked = check_folder_once if len(folders) == 1 else check_folder
    problems = [problem for folder in folders for problem in checked(folder)]
    for problem in problems:
        console.err.print(f"[red]✗[/] {escape(str(problem))}")
    if problems:
        raise RecipeError(
            f"{len(problems)} problem(s) in {len(folders)} recipe folder(s)",
            "fix each one above; docs/recipes/writing.md explains every key",
        )
    for folder in folders:
        console.ok(f"{folder}: no problems")


def register(app: typer.Typer) -> None:
    # the annotations above name typer; they are read here, when typer builds the command,
    # so running a command from its cached description never imports typer
    global typer
    import typer

    group = typer.Typer(help="List the recipes, or show one in detail.", rich_markup_mode=None)
    app.add_typer(group, name="recipes")
    group.callback(invoke_without_command=True)(recipes)
    group.command("show")(show)
    group.command("check")(check)
