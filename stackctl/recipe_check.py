"""Checks a recipe folder before anything uses it: every problem, with its file and key.

Runs on the raw recipe.toml (after the folder's kinds.py registered its kinds) so a typo
like `phase = "after_up"`, an unknown step kind, `argument_kind = "nonsense"`, an option the
kind does not take, or `{{ settings.X }}` in a template where X is never declared is refused
when the recipe loads, not halfway through a deploy.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackctl import schema
from stackctl.backup import spec as backup_spec

PHASES = ("before-up", "after-up")
TOP_KEYS = {
    "name",
    "title",
    "description",
    "app_version",
    "services",
    "settings",
    "secrets",
    "files",
    "network",
    "data_dirs",
    "vhosts",
    "bootstrap",
    "extractors",
    "actions",
    "next_steps",
    "reads",
    "publishes",
    "secret_files",
    "checks",
}
CHECK_LEVELS = ("error", "warning")
SITE_FILES = {"mail.password_file"}  # site settings naming a file a secret is read from
SETTING_KEYS = {"kind", "default", "help", "choices", "optional", "when", "publish"}
STEP_KEYS = {"id", "kind", "title", "phase", "always", "start", "when"}
ACTION_KEYS = {"name", "kind", "help", "argument", "argument_kind", "requires"}
ARGUMENT_KINDS_EXTRA = {"rest"}  # every value kind, plus the rest of the command line
SETTINGS_METHODS = {"get", "items", "keys", "values"}


@dataclass(frozen=True)
class Problem:
    """One problem in a recipe folder, with its file and key path."""

    file: Path
    key: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.file}: {self.key}: {self.message}"
            if self.key
            else f"{self.file}: {self.message}"
        )


def _keys(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def check_raw(raw: Mapping[str, Any], folder: Path, thorough: bool = False) -> list[Problem]:
    """Every problem in a parsed recipe.toml; the folder's own kinds must be registered first.

    Settings used in templates are found with a quick scan of the template tags when a recipe
    loads, and with Jinja's own parser (`thorough`, for `stackctl recipes check`)."""
    from stackctl import kinds, recipe, recipe_module, registry, secrets, steps
    from stackctl.settings import COMMON_STACK_FIELDS
    from stackctl.values import KINDS

    kinds.load_core()
    own = recipe_module.module_name(folder)
    value_kinds = registry.usable(KINDS, own)
    formats = registry.usable(secrets.FORMATS, own)
    step_kinds = {k: steps.STEP_OPTIONS[k] for k in registry.usable(steps.STEP_RUNNERS, own)}
    action_kinds = {k: steps.ACTION_OPTIONS[k] for k in registry.usable(steps.ACTION_RUNNERS, own)}
    toml = folder / "recipe.toml"
    found: list[Problem] = []

    def problem(key: str, message: str, file: Path = toml) -> None:
        found.append(Problem(file, key, message))

    def unknown_keys(where: str, table: Any, allowed: set[str]) -> None:
        if not isinstance(table, Mapping):
            problem(where, "must be a table")
            return
        for key in table:
            if key not in allowed:
                problem(f"{where}.{key}" if where else key, "unknown key")

    unknown_keys("", raw, TOP_KEYS)
    if not isinstance(raw.get("name"), str):
        problem("name", "is required: the recipe's name")
    services = raw.get("services", {})
    for name, spec in services.items():
        unknown_keys(f"services.{name}", spec, _keys(recipe.Service) - {"name"})
    backup_spec.check(raw, problem)
    declared = {f.name for f in COMMON_STACK_FIELDS} | set(raw.get("settings", {}))
    for name, spec in raw.get("settings", {}).items():
        unknown_keys(f"settings.{name}", spec, SETTING_KEYS)
        kind = spec.get("kind", "text") if isinstance(spec, Mapping) else "text"
        if kind not in value_kinds:
            problem(f"settings.{name}.kind", f"unknown kind {kind!r} (known: {_list(value_kinds)})")
    for i, spec in enumerate(raw.get("secrets", ())):
        where = f"secrets[{spec.get('name', i)}]"
        unknown_keys(where, spec, _keys(recipe.Secret))
        if spec.get("format") not in formats:
            problem(
                f"{where}.format",
                f"unknown format {spec.get('format')!r} (known: {_list(formats)})",
            )
        if spec.get("site_file") and spec["site_file"] not in SITE_FILES:
            problem(f"{where}.site_file", f"known: {_list(SITE_FILES)}")
        if spec.get("site_file") and spec.get("format") != "provided":
            problem(f"{where}.site_file", "only a `provided` secret is read from a file")
    from stackctl.secret_files import FILE_FORMATS

    file_formats = registry.usable(FILE_FORMATS, own)
    for i, spec in enumerate(raw.get("secret_files", ())):
        where = f"secret_files[{spec.get('name', i)}]"
        unknown_keys(where, spec, _keys(recipe.SecretFile))
        if spec.get("format") not in file_formats:
            problem(
                f"{where}.format",
                f"unknown format {spec.get('format')!r} (known: {_list(file_formats)})",
            )
        target = Path(str(spec.get("path", "")))
        if target.is_absolute() or ".." in target.parts or not target.parts:
            problem(f"{where}.path", "must be a path inside the stack folder")
    secret_names = {n for s in raw.get("secrets", ()) for n in (s.get("name"), s.get("companion"))}
    for i, spec in enumerate(raw.get("publishes", ())):
        where = f"publishes[{spec.get('value', i)}]"
        unknown_keys(where, spec, _keys(recipe.Publish))
        if bool(spec.get("secret")) == bool(spec.get("fact")):
            problem(where, "names one source: `secret = NAME` or `fact = NAME`")
        elif spec.get("secret") and spec["secret"] not in secret_names:
            problem(f"{where}.secret", f"names no secret of this recipe {spec['secret']!r}")
    for i, spec in enumerate(raw.get("reads", ())):
        where = f"reads[{spec.get('value', i)}]"
        unknown_keys(where, spec, _keys(recipe.Read))
        for key in ("stack", "value", "into"):
            if not spec.get(key):
                problem(f"{where}.{key}", "is required")
        if spec.get("stack") == raw.get("name"):
            problem(f"{where}.stack", "a recipe cannot read from itself")
        if spec.get("into") in secret_names:
            problem(f"{where}.into", f"{spec['into']!r} is already one of this recipe's secrets")
    for i, spec in enumerate(raw.get("files", ())):
        where = f"files[{spec.get('path', i)}]"
        unknown_keys(where, spec, _keys(recipe.RenderedFileSpec))
        template = spec.get("template")
        if isinstance(template, str) and not (folder / template).is_file():
            problem(f"{where}.template", f"no template {template} in {folder}")
    if "network" not in raw:
        problem("network", "is required: [network] name = ...")
    else:
        unknown_keys("network", raw["network"], _keys(recipe.NetworkSpec))
    ids: set[str] = set()
    for i, step in enumerate(raw.get("bootstrap", ())):
        where = f"bootstrap[{step.get('id', i)}]"
        for key in ("id", "kind", "title"):
            if key not in step:
                problem(f"{where}.{key}", "is required")
        if step.get("id") in ids:
            problem(f"{where}.id", "is used by another step")
        ids.add(step.get("id"))
        phase = step.get("phase", "after-up")
        if phase not in PHASES:
            problem(f"{where}.phase", f"unknown phase {phase!r} (known: {', '.join(PHASES)})")
        for service in step.get("start", ()):
            if service not in services:
                problem(f"{where}.start", f"names no service {service!r}")
        if "start" in step and phase != "before-up":
            problem(f"{where}.start", "only a before-up step starts services")
        _kind_options(problem, where, step, STEP_KEYS, step_kinds, "step")
    argument_kinds = value_kinds | ARGUMENT_KINDS_EXTRA
    for i, action in enumerate(raw.get("actions", ())):
        where = f"actions[{action.get('name', i)}]"
        for key in ("name", "kind", "help"):
            if key not in action:
                problem(f"{where}.{key}", "is required")
        argument_kind = action.get("argument_kind", "text")
        if argument_kind not in argument_kinds:
            problem(
                f"{where}.argument_kind",
                f"unknown kind {argument_kind!r} (known: {_list(argument_kinds)})",
            )
        if action.get("requires") and action["requires"] not in declared:
            problem(f"{where}.requires", f"names no setting {action['requires']!r}")
        _kind_options(problem, where, action, ACTION_KEYS, action_kinds, "action")
    for i, check in enumerate(raw.get("checks", ())):
        where = f"checks[{i}]"
        unknown_keys(where, check, _keys(recipe.Check))
        for key in ("when", "message"):
            if not check.get(key):
                problem(f"{where}.{key}", "is required")
        if check.get("level", "error") not in CHECK_LEVELS:
            problem(f"{where}.level", f"unknown level {check['level']!r} (known: error, warning)")
    for i, extractor in enumerate(raw.get("extractors", ())):
        where = f"extractors[{extractor.get('name', i)}]"
        unknown_keys(where, extractor, _keys(recipe.Extractor))
        if extractor.get("service") not in services:
            problem(f"{where}.service", f"names no service {extractor.get('service')!r}")
    for file, key, name in referenced_settings(raw, folder, thorough):
        if name not in declared:
            problem(key, f"uses settings.{name}, which the recipe does not declare", file)
    return found


def _kind_options(
    problem: Any,
    where: str,
    table: Mapping[str, Any],
    common: set[str],
    schemas: Mapping[str, schema.Schema],
    what: str,
) -> None:
    kind = table.get("kind")
    if kind not in schemas:
        problem(f"{where}.kind", f"unknown {what} kind {kind!r} (known: {_list(schemas)})")
        return
    options = {k: v for k, v in table.items() if k not in common}
    for key, message in schema.problems(options, schemas[kind]):
        problem(f"{where}.{key}", message)


def _list(names: Any) -> str:
    return ", ".join(sorted(names))


# -- settings referenced in templates ---------------------------------------------------------

_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_USE = re.compile(
    r"\bsettings\s*(?:\.\s*get\s*\(\s*['\"](\w+)['\"]|\[\s*['\"](\w+)['\"]\s*\]|\.\s*(\w+))"
)


def referenced_settings(
    raw: Mapping[str, Any], folder: Path, thorough: bool = False
) -> Iterator[tuple[Path, str, str]]:
    """(file, key path, setting) for every `settings.X` a template or recipe string uses."""
    _settings_in = _parsed if thorough else _scanned
    toml = folder / "recipe.toml"
    for key, text in _strings(raw, ""):
        if "{{" in text or "{%" in text:
            source = text
        elif key.endswith(".when") or key == "when":
            source = "{{ " + text + " }}"  # a `when` is a bare expression
        else:
            continue
        for name in _settings_in(source):
            yield toml, key, name
    for spec in raw.get("files", ()):
        template = folder / str(spec.get("template", ""))
        if template.is_file():
            for name in _settings_in(template.read_text(encoding="utf-8")):
                yield template, "", name


def _strings(value: Any, key: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{key}[{i}]")


def _scanned(source: str) -> set[str]:
    """The quick scan: `settings.X`, `settings["X"]`, `settings.get("X")` inside tags."""
    found = set()
    for tag in _TAG.findall(source):
        for match in _USE.finditer(tag):
            name = next(group for group in match.groups() if group)
            if name not in SETTINGS_METHODS or match.group(1) or match.group(2):
                found.add(name)
    return found


def _parsed(source: str) -> set[str]:
    from jinja2 import Environment, TemplateSyntaxError, nodes

    try:
        tree = Environment().parse(source)
    except TemplateSyntaxError:
        return set()  # rendering reports the syntax error with its line
    found = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Call)):
        if isinstance(node, nodes.Call):
            target = node.node  # settings.get("x")
            if (
                isinstance(target, nodes.Getattr)
                and _is_settings(target.node)
                and target.attr == "get"
                and node.args
                and isinstance(node.args[0], nodes.Const)
            ):
                found.add(str(node.args[0].value))
        elif isinstance(node, nodes.Getattr) and _is_settings(node.node):
            if node.attr not in SETTINGS_METHODS:
                found.add(node.attr)
        elif (
            isinstance(node, nodes.Getitem)
            and _is_settings(node.node)
            and isinstance(node.arg, nodes.Const)
        ):
            found.add(str(node.arg.value))
    return found


def _is_settings(node: Any) -> bool:
    from jinja2 import nodes

    return isinstance(node, nodes.Name) and node.name == "settings"


def check_folder_once(folder: Path) -> list[Problem]:
    """check_folder, answered without checking when these very files passed it before: the
    checks and the render read nothing but the folder and stackctl's own files."""
    from stackctl import recipe_cache

    mark = recipe_cache.clean_mark(folder)  # keyed before any file is read
    if mark.is_file():
        return []
    found = check_folder(folder)
    if not found:
        recipe_cache.mark_clean(mark)
    return found


def check_folder(folder: Path) -> list[Problem]:
    """Everything `stackctl recipes check` reports for one folder: its file, its code, its
    keys, then a render with default settings and stand-in secrets."""
    import tomllib

    from stackctl import recipe_module
    from stackctl.errors import StackctlError

    toml = folder / "recipe.toml"
    if not toml.is_file():
        return [Problem(folder, "", "holds no recipe.toml")]
    try:
        raw = tomllib.loads(toml.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return [Problem(toml, "", f"cannot be read as TOML: {exc}")]
    try:
        recipe_module.load(folder)
    except StackctlError as exc:
        return [Problem(folder / recipe_module.MODULE_FILE, "", exc.message)]
    found = check_raw(raw, folder, thorough=True)
    if found:
        return found
    try:
        _render_with_defaults(folder)
    except StackctlError as exc:
        found.append(Problem(toml, "", f"does not render with default settings: {exc.message}"))
    return found


def _render_with_defaults(folder: Path) -> None:
    from stackctl.network import layout
    from stackctl.recipe import load_recipe
    from stackctl.render import StackInputs, render_stack
    from stackctl.settings import parse_site, stack_settings

    recipe = load_recipe(folder)
    site = parse_site({"domain": "example.org"})
    settings = stack_settings(site, recipe.name, recipe.settings, [recipe.name])
    network = layout(
        site.names(recipe.name).network, "10.99.0.0/24", recipe.network.fixed_ips, "check"
    )
    secrets = {n: "stand-in" for s in recipe.secrets for n in (s.name, s.companion) if n}
    render_stack(StackInputs(recipe, site, settings, network, secrets, {}))
