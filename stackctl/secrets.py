"""Secret generation in each app's exact format, stored in the stack's .env.

Formats are a registry: a recipe names one (`format = "base64"`), and a module can add
its own with `@secret_format("name")`. A format may also produce a companion value (a key
pair's public half) and derive it from an existing primary.
"""

from __future__ import annotations

import base64
import secrets as random
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stackctl.envfile import merge_env, read_env
from stackctl.errors import SecretError
from stackctl.recipe import Recipe, Secret

# Letters and digits only: nothing that compose interpolation, YAML, URLs or shells treat specially.
_ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True)
class SecretFormat:
    generate: Callable[[Secret], str]
    derive: Callable[[Secret, str], str] | None = None  # companion value from the primary one
    check: Callable[[Secret, str], str | None] | None = None


FORMATS: dict[str, SecretFormat] = {}


def secret_format(
    name: str,
    derive: Callable[[Secret, str], str] | None = None,
    check: Callable[[Secret, str], str | None] | None = None,
) -> Callable[[Callable[[Secret], str]], Callable[[Secret], str]]:
    def register(generate: Callable[[Secret], str]) -> Callable[[Secret], str]:
        FORMATS[name] = SecretFormat(generate, derive, check)
        return generate

    return register


def _check_base64(spec: Secret, value: str) -> str | None:
    if len(value) % 4:
        return "is not padded base64: museum-style strict decoders need the trailing '='"
    try:
        if spec.format == "base64":
            raw = base64.b64decode(value, validate=True)
        else:
            raw = base64.urlsafe_b64decode(value.encode())
            if base64.urlsafe_b64encode(raw).decode() != value:
                return "is not padded URL-safe base64"
    except ValueError:
        return f"is not valid {spec.format}"
    if len(raw) != spec.bytes:
        return f"decodes to {len(raw)} bytes, not {spec.bytes}"
    return None


@secret_format("base64", check=_check_base64)
def _base64(spec: Secret) -> str:
    return base64.b64encode(random.token_bytes(spec.bytes)).decode()


@secret_format("base64url", check=_check_base64)
def _base64url(spec: Secret) -> str:
    return base64.urlsafe_b64encode(random.token_bytes(spec.bytes)).decode()


@secret_format("hex")
def _hex(spec: Secret) -> str:
    return random.token_hex(spec.bytes)


@secret_format("password")
@secret_format("alnum")
def _alnum(spec: Secret) -> str:
    return "".join(random.choice(_ALNUM) for _ in range(spec.length))


@secret_format("username")
def _username(spec: Secret) -> str:
    return spec.prefix + "".join(
        random.choice(string.ascii_lowercase + string.digits) for _ in range(spec.length)
    )


def _format(spec: Secret) -> SecretFormat:
    if spec.format not in FORMATS:
        raise SecretError(
            f"secret {spec.name}: unknown format {spec.format!r}",
            "known: " + ", ".join(sorted(FORMATS)),
        )
    return FORMATS[spec.format]


def generate(spec: Secret) -> str:
    return _format(spec).generate(spec)


def check_format(spec: Secret, value: str) -> str | None:
    """Why an existing value does not fit its format, or None when it does."""
    if "$" in value:
        return "contains '$', which compose would interpolate"
    checker = _format(spec).check
    return checker(spec, value) if checker else None


@dataclass(frozen=True)
class SecretsResult:
    path: Path
    created: tuple[str, ...]
    kept: tuple[str, ...]


def env_path(stack_dir: Path) -> Path:
    return stack_dir / ".env"


def load(stack_dir: Path) -> dict[str, str]:
    return read_env(env_path(stack_dir))


def names(recipe: Recipe) -> list[str]:
    return [n for s in recipe.secrets for n in (s.name, s.companion) if n]


def missing(recipe: Recipe, stack_dir: Path) -> list[str]:
    have = load(stack_dir)
    return [n for n in names(recipe) if not have.get(n)]


def _new_values(spec: Secret, have: dict[str, str]) -> dict[str, str]:
    fmt = _format(spec)
    primary = have.get(spec.name)
    if not spec.companion:
        return {} if primary else {spec.name: fmt.generate(spec)}
    companion = have.get(spec.companion)
    if primary and companion:
        return {}
    if companion and not primary:
        raise SecretError(
            f"{spec.companion} is set but {spec.name} is missing from .env",
            f"restore {spec.name} from a backup, or remove {spec.companion} to make a new pair",
        )
    if primary:  # only the companion is missing: derive it, never replace the primary
        assert fmt.derive is not None
        return {spec.companion: fmt.derive(spec, primary)}
    value = fmt.generate(spec)
    assert fmt.derive is not None, f"format {spec.format} has a companion but cannot derive it"
    return {spec.name: value, spec.companion: fmt.derive(spec, value)}


def ensure(recipe: Recipe, stack_dir: Path, dry_run: bool = False) -> SecretsResult:
    """Create the secrets that are missing; never touch one that exists."""
    path = env_path(stack_dir)
    have = read_env(path)
    new: dict[str, str] = {}
    for spec in recipe.secrets:
        new.update(_new_values(spec, have))
    if new and not dry_run:
        merge_env(path, new)
    return SecretsResult(path, tuple(new), tuple(n for n in names(recipe) if n not in new))


def rotate(recipe: Recipe, stack_dir: Path, name: str, force: bool = False) -> str:
    spec = recipe.secret(name)
    if spec.critical and not force:
        raise SecretError(
            f"refusing to rotate {name}: {spec.critical}",
            "if you really mean it (and have a backup), run again with --force",
        )
    values = _new_values(spec, {})
    merge_env(env_path(stack_dir), values, replace=values)
    return values[name]


def mask(value: str) -> str:
    return "•" * 8
