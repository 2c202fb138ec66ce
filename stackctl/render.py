"""Rendering: a pure function from (recipe, site settings, secrets, network plan) to files.

No disk writes and no engine calls happen here; `files.plan_files` compares the result
with the disk and `files.apply_plan` writes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackctl.envfile import format_value
from stackctl.errors import RecipeError
from stackctl.files import RenderedFile
from stackctl.network import NetworkPlan
from stackctl.paths import templates_dir
from stackctl.recipe import Recipe
from stackctl.render_memo import recipe_scope, remembered
from stackctl.settings import Site, local_address, resolve_image

if TYPE_CHECKING:  # Jinja is loaded only when something renders that was not kept
    from jinja2 import Environment, Template


@dataclass(frozen=True)
class StackInputs:
    """Everything rendering reads: recipe, site, settings, network plan, secrets, facts."""

    recipe: Recipe
    site: Site
    settings: Mapping[str, Any]
    network: NetworkPlan
    secrets: Mapping[str, str]
    facts: Mapping[str, Any]


def _yaml_quote(value: Any) -> str:
    # JSON strings are valid YAML scalars: quotes, colons and '#' stay literal.
    return json.dumps(value)


def _env_value(value: Any) -> str:
    return format_value("" if value is None else str(value))


def _env_ref(name: str) -> str:
    return '"${' + name + ':?missing from .env: run stackctl secrets gen}"'


@cache
def environment(folder: Path) -> Environment:
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

    from stackctl.template_cache import bytecode_cache

    env = Environment(
        loader=ChoiceLoader(
            [FileSystemLoader(str(folder)), FileSystemLoader(str(templates_dir()))]
        ),
        undefined=StrictUndefined,
        bytecode_cache=bytecode_cache("stacks"),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["q"] = _yaml_quote
    env.filters["env"] = _env_ref
    # a value in an env file compose reads (`env_file:`): taken literally, `$`, `#`, quotes and all
    env.filters["env_value"] = _env_value
    return env


# compiled once per run: a plan evaluates the same few conditions many times over
@cache
def _expression(folder: Path, expression: str) -> Any:
    from stackctl import template_cache

    return template_cache.compile_expression(environment(folder), expression)


@cache
def _text(folder: Path, text: str) -> Template:
    from stackctl import template_cache

    return template_cache.from_string(environment(folder), text)


def evaluate(recipe: Recipe, expression: str, context: Mapping[str, Any]) -> Any:
    """A recipe `when` condition: a Jinja expression over the context."""
    if not expression:
        return True

    def run() -> Any:
        from jinja2 import TemplateError

        try:
            return _expression(recipe.folder, expression)(**context)
        except TemplateError as exc:
            raise RecipeError(
                f"recipe {recipe.name}: condition {expression!r} failed: {exc}"
            ) from exc

    return remembered(recipe_scope(recipe.folder), "condition", expression, context, run)


def expand(recipe: Recipe, text: str, context: Mapping[str, Any]) -> str:
    if "{{" not in text and "{%" not in text:
        return text

    def run() -> str:
        from jinja2 import TemplateError

        try:
            return _text(recipe.folder, text).render(**context)
        except TemplateError as exc:
            raise RecipeError(f"recipe {recipe.name}: cannot expand {text!r}: {exc}") from exc

    return remembered(recipe_scope(recipe.folder), "text", text, context, run)


def merged_settings(settings: Mapping[str, Any], facts: Mapping[str, Any]) -> dict[str, Any]:
    """Settings with what actions learned (facts) added: a fact extends a list setting of the same name."""
    merged = dict(settings)
    for key, value in facts.items():
        if isinstance(merged.get(key), list) and isinstance(value, list):
            merged[key] = sorted({*merged[key], *value})
    return merged


def base_context(
    recipe: Recipe,
    site: Site,
    settings: Mapping[str, Any],
    facts: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    names = site.names(recipe.name)
    return {
        # templates take every engine name from `names` (stackctl.names)
        "names": names,
        "stack": {
            "name": recipe.name,
            "project": names.project,
            "dir": str(site.stack_dir(recipe.name)),
            "data": str(site.data_dir(recipe.name)),
            # where this host reaches the published ports (probes from the host)
            "address": local_address(settings),
        },
        "site": site,
        "settings": merged_settings(settings, facts or {}),
        "facts": dict(facts or {}),
    }


def active_services(recipe: Recipe, context: Mapping[str, Any]) -> dict[str, bool]:
    return {s.name: bool(evaluate(recipe, s.when, context)) for s in recipe.services}


def images(recipe: Recipe, site: Site, context: Mapping[str, Any]) -> dict[str, str]:
    """Each active service's image, after the [images] override map."""
    active = active_services(recipe, context)
    found = {}
    for service in recipe.services:
        if active[service.name]:
            reference = service.reference(expand(recipe, service.tag, context))
            found[service.name] = resolve_image(expand(recipe, reference, context), site.images)
    return found


def full_context(inputs: StackInputs) -> dict[str, Any]:
    context = base_context(inputs.recipe, inputs.site, inputs.settings, inputs.facts)
    context["network"] = inputs.network
    context["services"] = active_services(inputs.recipe, context)
    context["images"] = images(inputs.recipe, inputs.site, context)
    # for app configs that can only hold secrets inline (files marked `secret = true`)
    context["secrets"] = dict(inputs.secrets)
    return context


class _NotInThisFile:
    """`secrets` in a file not marked secret: it would be written 0644 and shown in diffs."""

    def _refuse(self, *_: Any) -> Any:
        from jinja2 import TemplateError

        raise TemplateError(
            "`secrets` is only available in files marked `secret = true` "
            "(written 0600, masked in diffs); reference a .env value with `| env` instead"
        )

    __getattr__ = __getitem__ = get = __iter__ = __contains__ = _refuse

    def __repr__(self) -> str:  # the same in every process: a render with it can be kept
        return "<secrets: only in files marked secret>"


def render_stack(inputs: StackInputs) -> list[RenderedFile]:
    """Every file of the stack, including the reverse-proxy snippet for the site's dialect."""
    recipe = inputs.recipe
    context = full_context(inputs)
    rendered = []
    for spec in recipe.files:
        if not evaluate(recipe, spec.when, context):
            continue
        values = context if spec.secret else {**context, "secrets": _NotInThisFile()}

        def run(template: str = spec.template, values: dict[str, Any] = values) -> str:
            from jinja2 import TemplateError

            try:
                return environment(recipe.folder).get_template(template).render(**values)
            except TemplateError as exc:
                raise RecipeError(
                    f"recipe {recipe.name}: template {template} failed: {exc}"
                ) from exc

        if spec.secret:  # its template sees the secrets: rendered each time, never kept
            text = run()
        else:
            text = remembered(recipe_scope(recipe.folder), "template", spec.template, values, run)
        rendered.append(
            RenderedFile(spec.path, text, 0o600 if spec.secret else spec.mode, spec.secret)
        )
    rendered.extend(proxy_files(inputs.recipe, inputs.site, inputs.settings, inputs.facts))
    return rendered


def stack_vhosts(
    recipe: Recipe, site: Site, settings: Mapping[str, Any], facts: Mapping[str, Any] | None = None
) -> list[Any]:
    """The recipe's virtual hosts with settings filled in, as proxy model objects."""
    from stackctl.proxy.model import vhost_from

    context = base_context(recipe, site, settings, facts)
    vhosts = []
    for raw in recipe.vhosts:
        if not evaluate(recipe, raw.get("when", ""), context):
            continue
        locations = [
            loc
            for loc in raw.get("locations", ())
            if evaluate(recipe, loc.get("when", ""), context)
        ]  # a location exists only when its `when` holds (a whiteboard path, say)
        expanded = _expand_tree(recipe, {**raw, "locations": locations}, context)
        if "aliases_from" in expanded:  # aliases from a list setting, e.g. alternate domains
            expanded["aliases"] = [
                *expanded.get("aliases", ()),
                *evaluate(recipe, raw["aliases_from"], context),
            ]
            del expanded["aliases_from"]
        vhosts.append(vhost_from(expanded, recipe.name))
    return vhosts


def _expand_tree(recipe: Recipe, value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return expand(recipe, value, context)
    if isinstance(value, list):
        return [_expand_tree(recipe, v, context) for v in value]
    if isinstance(value, dict):
        return {k: _expand_tree(recipe, v, context) for k, v in value.items() if k != "when"}
    return value


def proxy_files(
    recipe: Recipe, site: Site, settings: Mapping[str, Any], facts: Mapping[str, Any] | None = None
) -> list[RenderedFile]:
    """The proxy snippet for the site's dialect, kept in <stack dir>/proxy/."""
    try:
        from stackctl import proxy
    except ImportError:  # pragma: no cover - the proxy package ships with stackctl
        return []
    if not hasattr(proxy, "render") or not recipe.vhosts:
        return []
    vhosts = stack_vhosts(recipe, site, settings, facts)
    files = proxy.render(vhosts, site.proxy, proxy.site_from(site), recipe.name)
    return [RenderedFile(f"proxy/{name}", text) for name, text in sorted(files.items())]
