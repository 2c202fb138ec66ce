"""Recipes are data: stacks/<app>/recipe.toml loaded into frozen dataclasses.

A recipe names its services and images, its settings (with kinds and defaults), secrets
(with exact formats), the files it renders, its network, reverse-proxy routes, bootstrap
steps, log extractors and actions. Nothing in here runs anything.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from stackctl import recipe_cache, recipe_module
from stackctl.backup.spec import BackupSpec
from stackctl.backup.spec import parse as parse_backup
from stackctl.errors import RecipeError
from stackctl.paths import stacks_dir
from stackctl.values import KINDS, Field


@dataclass(frozen=True)
class Service:
    """A compose service of a recipe: its image, role and when it runs."""

    name: str
    image: str  # repository, without tag
    tag: str  # may be a template such as "{{ settings.version }}"
    role: str = ""
    when: str = ""  # a Jinja expression; the service exists only when it is true
    wait_healthy: bool = True
    backup: BackupSpec | None = None  # how its data is backed up (stackctl/backup/spec.py)

    def reference(self, tag: str) -> str:
        return f"{self.image}:{tag}" if tag else self.image


@dataclass(frozen=True)
class Secret:
    """A secret a recipe keeps in the stack's .env: its format and rotation rules."""

    name: str
    format: str  # base64 | base64url | password | alnum | hex | username
    bytes: int = 32
    length: int = 32
    prefix: str = ""
    critical: str = ""  # why rotating it loses data; empty when rotation is safe
    help: str = ""
    companion: str = ""  # a second value made together with this one (e.g. a public key)
    site_file: str = ""  # `provided` only: a site setting naming a file to read it from


@dataclass(frozen=True)
class SecretFile:
    """A secret kept as a file in the stack folder (a PEM key, say), mounted by compose."""

    name: str
    path: str  # relative to the stack folder
    format: str  # pem-rsa | pem-ec | one registered with @file_format
    mode: int = 0o400
    uid: int | None = None  # the container user that reads it; None keeps the writer's
    gid: int | None = None
    bits: int = 2048  # pem-rsa
    curve: str = "P-256"  # pem-ec: P-256, P-384 or secp256k1
    # pkcs8 (BEGIN PRIVATE KEY) or traditional: PKCS#1 for RSA, SEC1 for EC (BEGIN RSA/EC
    # PRIVATE KEY), for apps that only read the older encodings
    encoding: str = "pkcs8"
    critical: str = ""  # why replacing it loses data; empty when rotation is safe
    help: str = ""


@dataclass(frozen=True)
class Publish:
    """A value other stacks may read: one of this stack's secrets, or a fact it learned."""

    value: str
    secret: str = ""
    fact: str = ""
    help: str = ""


@dataclass(frozen=True)
class Read:
    """A value this stack reads from another one; templates see it as `secrets[into]`."""

    stack: str
    value: str
    into: str


@dataclass(frozen=True)
class Check:
    """A combination of settings the app cannot work with: refused, or warned about.

    `when` is the bad case (a Jinja expression); `message` and `hint` may use the context."""

    when: str
    message: str
    hint: str = ""
    level: str = (
        "error"  # error: refused before anything changes | warning: said at plan and deploy
    )


@dataclass(frozen=True)
class RenderedFileSpec:
    """A file a recipe renders: its template, path, mode and condition."""

    path: str
    template: str
    mode: int = 0o644
    secret: bool = False
    when: str = ""


@dataclass(frozen=True)
class NetworkSpec:
    """The stack's own network; its name comes from stackctl.names, not from the recipe."""

    fixed_ips: dict[str, int] = field(default_factory=dict)  # service -> host offset in the subnet


@dataclass(frozen=True)
class Step:
    """A bootstrap step; `kind` selects the runner in stackctl.bootstrap."""

    id: str
    kind: str
    title: str
    phase: str = "after-up"  # before-up (only its own services started) | after-up
    options: dict[str, Any] = field(default_factory=dict)
    always: bool = False  # re-check on every deploy (cheap, idempotent checks)
    when: str = ""  # a Jinja expression; the step exists only when it is true


@dataclass(frozen=True)
class Pattern:
    """A regex an extractor matches, and whether the value is on the next line."""

    regex: str
    next_line: str = ""  # the value's key (e.g. the email) is named on the following line


@dataclass(frozen=True)
class Extractor:
    """A value a recipe finds in a service's log (a login code, say)."""

    name: str
    service: str
    help: str
    patterns: tuple[Pattern, ...]
    argument: str = ""  # name of the group the optional argument must equal
    distinct: bool = False
    exclude: tuple[str, ...] = ()
    normalize: str = ""  # "lower" to compare the argument case-insensitively


@dataclass(frozen=True)
class Action:
    """A recipe action; `kind` selects the runner, `options` holds the kind's own keys."""

    name: str
    kind: str  # exec | add-fact | deploy | a recipe's own kind
    help: str
    argument: str = ""
    argument_kind: str = "text"
    requires: str = ""  # a setting that must be set for the action to make sense
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def service(self) -> str:
        return str(self.options.get("service", ""))

    @property
    def argv(self) -> tuple[str, ...]:
        return tuple(self.options.get("argv", ()))

    @property
    def fact(self) -> str:
        return str(self.options.get("fact", ""))

    @property
    def restart(self) -> tuple[str, ...]:
        return tuple(self.options.get("restart", ()))


@dataclass(frozen=True)
class Recipe:
    """One app, as its recipe folder describes it, checked at load."""

    name: str
    title: str
    description: str
    app_version: str
    folder: Path
    services: tuple[Service, ...]
    settings: tuple[Field, ...]
    secrets: tuple[Secret, ...]
    files: tuple[RenderedFileSpec, ...]
    network: NetworkSpec
    data_dirs: tuple[str, ...]
    vhosts: tuple[dict[str, Any], ...]
    bootstrap: tuple[Step, ...]
    extractors: tuple[Extractor, ...]
    actions: tuple[Action, ...]
    next_steps: tuple[str, ...] = ()
    secret_files: tuple[SecretFile, ...] = ()
    publishes: tuple[Publish, ...] = ()
    reads: tuple[Read, ...] = ()
    checks: tuple[Check, ...] = ()

    def _find(self, items: tuple[Any, ...], name: str, what: str) -> Any:
        for item in items:
            if name in (item.name, getattr(item, "companion", None)):
                return item
        raise RecipeError(
            f"recipe {self.name} has no {what} {name!r}",
            f"{what}s: " + (", ".join(i.name for i in items) or "none"),
        )

    def service(self, name: str) -> Service:
        return self._find(self.services, name, "service")

    def secret(self, name: str) -> Secret:
        return self._find(self.secrets, name, "secret")

    def secret_file(self, name: str) -> SecretFile:
        return self._find(self.secret_files, name, "secret file")

    def extractor(self, name: str) -> Extractor:
        return self._find(self.extractors, name, "extractor")

    def action(self, name: str) -> Action:
        return self._find(self.actions, name, "action")


def _fields(raw: dict[str, Any], recipe: str) -> tuple[Field, ...]:
    fields = []
    for name, spec in raw.items():
        kind = spec.get("kind", "text")
        if kind not in KINDS:
            raise RecipeError(f"recipe {recipe}: setting {name} has unknown kind {kind!r}")
        fields.append(
            Field(
                name,
                kind,
                spec.get("default"),
                spec.get("help", ""),
                tuple(spec.get("choices", ())),
                spec.get("optional", False),
                spec.get("when", ""),
                spec.get("publish", True),
            )
        )
    return tuple(fields)


_ACTION_KEYS = ("name", "kind", "help", "argument", "argument_kind", "requires")


def _action(raw: dict[str, Any]) -> Action:
    common = {k: raw.pop(k) for k in _ACTION_KEYS if k in raw}
    return Action(**common, options=raw)


def _implicit_actions(raw: dict[str, Any], declared: tuple[Action, ...]) -> tuple[Action, ...]:
    """`pg-upgrade` for every recipe with a Postgres backed up as a dump: deploy refuses a
    major version change of any such service and names this action as the way."""
    from stackctl.backup.pg_major import ACTION

    postgres = any(
        (service.get("backup") or {}).get("method") == "postgres-dump"
        for service in raw.get("services", {}).values()
    )
    if not postgres or any(action.name == ACTION for action in declared):
        return ()
    return (
        Action(
            name=ACTION,
            kind="postgres-upgrade",
            help="Move the Postgres data to the image's new major: dump, load into a fresh "
            "folder, compare the rows per table, switch (the old folder is kept), deploy",
        ),
    )


def load_recipe(folder: Path) -> Recipe:
    path = folder / "recipe.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RecipeError(f"cannot load recipe {path}: {exc}") from exc
    recipe_module.load(folder)  # the recipe's own kinds, before anything names them
    from stackctl.recipe_check import check_raw

    problems = check_raw(raw, folder)
    if problems:
        more = f"{len(problems) - 1} more; " if len(problems) > 1 else ""
        raise RecipeError(str(problems[0]), f"{more}see `stackctl recipes check {folder}`")
    name = raw["name"]
    try:
        secrets = tuple(Secret(**s) for s in raw.get("secrets", ()))
        steps = tuple(
            Step(
                id=s.pop("id"),
                kind=s.pop("kind"),
                title=s.pop("title"),
                phase=s.pop("phase", "after-up"),
                always=s.pop("always", False),
                when=s.pop("when", ""),
                options=s,
            )
            for s in (dict(s) for s in raw.get("bootstrap", ()))
        )
        extractors = tuple(
            Extractor(
                **{k: v for k, v in e.items() if k not in ("patterns", "exclude")},
                patterns=tuple(Pattern(**p) for p in e["patterns"]),
                exclude=tuple(e.get("exclude", ())),
            )
            for e in raw.get("extractors", ())
        )
        actions = tuple(_action(dict(a)) for a in raw.get("actions", ()))
        actions += _implicit_actions(raw, actions)
        return Recipe(
            name=name,
            title=raw.get("title", name),
            description=raw.get("description", ""),
            app_version=raw.get("app_version", ""),
            folder=folder,
            services=tuple(
                Service(name=k, **{**v, "backup": parse_backup(v.get("backup"))})
                for k, v in raw.get("services", {}).items()
            ),
            settings=_fields(raw.get("settings", {}), name),
            secrets=secrets,
            files=tuple(RenderedFileSpec(**f) for f in raw.get("files", ())),
            network=NetworkSpec(**raw.get("network", {})),
            data_dirs=tuple(raw.get("data_dirs", ())),
            vhosts=tuple(raw.get("vhosts", ())),
            bootstrap=steps,
            extractors=extractors,
            actions=actions,
            next_steps=tuple(raw.get("next_steps", ())),
            secret_files=tuple(SecretFile(**f) for f in raw.get("secret_files", ())),
            publishes=tuple(Publish(**p) for p in raw.get("publishes", ())),
            reads=tuple(Read(**r) for r in raw.get("reads", ())),
            checks=tuple(Check(**c) for c in raw.get("checks", ())),
        )
    except (TypeError, KeyError) as exc:
        raise RecipeError(f"recipe {path} is malformed: {exc}") from exc


_recipe_paths: tuple[Path, ...] = ()


def use_recipe_paths(paths: Iterable[str | Path]) -> None:
    """Add the site's `recipe_paths`: folders whose subfolders are recipes, like stacks/."""
    global _recipe_paths
    wanted = tuple(Path(p) for p in paths)
    if wanted != _recipe_paths:
        _recipe_paths = wanted
        all_recipes.cache_clear()


def recipe_folders() -> list[Path]:
    """The shipped recipes, then each folder of every `recipe_paths` entry, in order."""
    folders = []
    for root in (stacks_dir(), *_recipe_paths):
        if not root.is_dir():
            raise RecipeError(
                f"recipe path {root} is not a folder", "fix recipe_paths in stackctl.toml"
            )
        folders += [f for f in sorted(root.iterdir()) if (f / "recipe.toml").is_file()]
    return folders


@cache
def all_recipes() -> dict[str, Recipe]:
    """Every folder with a recipe.toml is a recipe: adding an app is adding a folder.

    Each is checked when it loads, or read from the cache of recipes checked from exactly
    its files. When every one comes from the cache, their kinds.py modules are imported only
    when needed; else all are imported, as two of them registering one name is an error."""
    recipe_module.forget_deferred()
    folders = recipe_folders()
    entries = [recipe_cache.entry(folder) for folder in folders]  # before any file is read
    cached = [
        recipe_cache.cached(entry, folder) for entry, folder in zip(entries, folders, strict=True)
    ]
    every_one_cached = all(recipe is not None for recipe in cached)
    found: dict[str, Recipe] = {}
    for folder, entry, recipe in zip(folders, entries, cached, strict=True):
        if recipe is None:
            recipe = load_recipe(folder)
            recipe_cache.store(entry, recipe)
        elif every_one_cached:
            recipe_module.defer(folder)
        else:
            recipe_module.load(folder)
        if recipe.name in found:
            raise RecipeError(
                f"two recipes are named {recipe.name!r}: {found[recipe.name].folder} and {folder}",
                "rename one (its `name` in recipe.toml); a recipe cannot replace another",
            )
        found[recipe.name] = recipe
    return found


def get_recipe(name: str) -> Recipe:
    recipes = all_recipes()
    if name not in recipes:
        raise RecipeError(
            f"no recipe named {name!r}",
            "recipes: " + ", ".join(recipes) + " (see `stackctl recipes`)",
        )
    recipe_module.load(recipes[name].folder)  # the named recipe's own code, if deferred
    return recipes[name]
