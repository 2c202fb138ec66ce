"""Tables and summaries: data in, rich output through the one console."""

from __future__ import annotations

from typing import Any

from stackctl import console
from stackctl.console import escape
from stackctl.recipe import Recipe
from stackctl.settings import COMMON_STACK_FIELDS, Site, stack_settings


def recipe_details(recipe: Recipe, site: Site) -> dict[str, Any]:
    from stackctl.recipe import all_recipes
    from stackctl.render import base_context, expand, stack_vhosts

    settings = stack_settings(site, recipe.name, recipe.settings, list(all_recipes()))
    context = base_context(recipe, site, settings)
    return {
        "name": recipe.name,
        "title": recipe.title,
        "description": recipe.description,
        "app_version": recipe.app_version,
        "services": [
            {
                "name": s.name,
                "image": expand(recipe, s.reference(expand(recipe, s.tag, context)), context),
                "role": s.role,
                "when": s.when,
            }
            for s in recipe.services
        ],
        "settings": [
            {
                "name": f.name,
                "kind": f.kind,
                "default": f.default,
                "value": settings.get(f.name),
                "help": f.help,
            }
            # the recipe's own, then the ones every stack has (enabled, bind_address, ...)
            for f in (*recipe.settings, *COMMON_STACK_FIELDS)
        ],
        "secrets": [
            {
                "name": s.name,
                "format": s.format,
                "rotation": "refused without --force" if s.critical else "allowed",
                "help": s.help,
            }
            for s in recipe.secrets
        ],
        "network": {"name": site.names(recipe.name).network, "fixed_ips": recipe.network.fixed_ips},
        "routes": [
            {
                "vhost": v.name,
                "hostname": v.hostname,
                "locations": [
                    {"path": loc.path, "upstream": loc.upstream, "websocket": loc.websocket}
                    for loc in v.locations
                ],
            }
            for v in stack_vhosts(recipe, site, settings)
        ],
        "bootstrap": [
            {"id": s.id, "kind": s.kind, "title": s.title, "phase": s.phase}
            for s in recipe.bootstrap
        ],
        "extractors": [
            {"name": e.name, "service": e.service, "argument": e.argument, "help": e.help}
            for e in recipe.extractors
        ],
        "actions": [
            {"name": a.name, "argument": a.argument, "help": a.help} for a in recipe.actions
        ],
    }


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    cells = [[str(c) if c not in (None, "") else "" for c in row] for row in rows]
    console.table(title, columns, cells)


def print_recipe(d: dict[str, Any]) -> None:
    console.info(
        f"[bold]{escape(d['title'])}[/] ({escape(d['name'])}) — {escape(d['description'])}"
    )
    console.info(f"app version: {escape(d['app_version'])}")
    _table(
        "services",
        ["service", "image", "role", "only when"],
        [[s["name"], s["image"], s["role"], s["when"]] for s in d["services"]],
    )
    _table(
        "settings  [stacks." + d["name"] + "]",
        ["key", "kind", "value", "meaning"],
        [[s["name"], s["kind"], s["value"], s["help"]] for s in d["settings"]],
    )
    _table(
        "secrets (values never shown here)",
        ["name", "format", "rotation", "meaning"],
        [[s["name"], s["format"], s["rotation"], s["help"]] for s in d["secrets"]],
    )
    fixed = ", ".join(f"{k} (+{v})" for k, v in d["network"]["fixed_ips"].items())
    console.info(
        f"network: {escape(d['network']['name'])}, fixed addresses for: {escape(fixed or 'none')}"
    )
    _table(
        "routes",
        ["vhost", "hostname", "path", "upstream", "websocket"],
        [
            [
                r["vhost"],
                r["hostname"],
                loc["path"],
                loc["upstream"],
                "yes" if loc["websocket"] else "",
            ]
            for r in d["routes"]
            for loc in r["locations"]
        ],
    )
    _table(
        "bootstrap steps",
        ["id", "phase", "what"],
        [[s["id"], s["phase"], s["title"]] for s in d["bootstrap"]],
    )
    _table(
        "extractors  (stackctl extract " + d["name"] + " NAME)",
        ["name", "service", "argument", "what"],
        [[e["name"], e["service"], e["argument"], e["help"]] for e in d["extractors"]],
    )
    _table(
        "actions  (stackctl run " + d["name"] + " NAME)",
        ["name", "argument", "what"],
        [[a["name"], a["argument"], a["help"]] for a in d["actions"]],
    )


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    _table(title, columns, rows)
