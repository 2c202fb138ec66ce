"""Secret generation in each app's exact format, stored in the stack's .env."""

from __future__ import annotations

import base64
import secrets as random
import string
from dataclasses import dataclass
from pathlib import Path

from stackctl.envfile import merge_env, read_env
from stackctl.errors import SecretError
from stackctl.recipe import Recipe, Secret

# Letters and digits only: nothing that compose interpolation, YAML, URLs or shells treat specially.
_ALNUM = string.ascii_letters + string.digits


def generate(spec: Secret) -> str:
    if spec.format == "base64":
        return base64.b64encode(random.token_bytes(spec.bytes)).decode()
    if spec.format == "base64url":
        return base64.urlsafe_b64encode(random.token_bytes(spec.bytes)).decode()
    if spec.format == "hex":
        return random.token_hex(spec.bytes)
    if spec.format in ("password", "alnum"):
        return "".join(random.choice(_ALNUM) for _ in range(spec.length))
    if spec.format == "username":
        suffix = "".join(
            random.choice(string.ascii_lowercase + string.digits) for _ in range(spec.length)
        )
        return f"{spec.prefix}{suffix}"
    raise SecretError(f"secret {spec.name}: unknown format {spec.format!r}")


def check_format(spec: Secret, value: str) -> str | None:
    """Why an existing value does not fit its format, or None when it does."""
    if spec.format in ("base64", "base64url") and len(value) % 4:
        return "is not padded base64: museum-style strict decoders need the trailing '='"
    try:
        if spec.format == "base64":
            raw = base64.b64decode(value, validate=True)
        elif spec.format == "base64url":
            raw = base64.urlsafe_b64decode(value.encode())
            if base64.urlsafe_b64encode(raw).decode() != value:
                return "is not padded URL-safe base64"
        else:
            return None if "$" not in value else "contains '$', which compose would interpolate"
    except ValueError:
        return f"is not valid {spec.format}"
    if len(raw) != spec.bytes:
        return f"decodes to {len(raw)} bytes, not {spec.bytes}"
    return None


@dataclass(frozen=True)
class SecretsResult:
    path: Path
    created: tuple[str, ...]
    kept: tuple[str, ...]


def env_path(stack_dir: Path) -> Path:
    return stack_dir / ".env"


def load(stack_dir: Path) -> dict[str, str]:
    return read_env(env_path(stack_dir))


def missing(recipe: Recipe, stack_dir: Path) -> list[str]:
    have = load(stack_dir)
    return [s.name for s in recipe.secrets if not have.get(s.name)]


def ensure(recipe: Recipe, stack_dir: Path, dry_run: bool = False) -> SecretsResult:
    """Create the secrets that are missing; never touch one that exists."""
    path = env_path(stack_dir)
    have = read_env(path)
    new = {s.name: generate(s) for s in recipe.secrets if not have.get(s.name)}
    if new and not dry_run:
        merge_env(path, new)
    return SecretsResult(
        path, tuple(new), tuple(s.name for s in recipe.secrets if s.name not in new)
    )


def rotate(recipe: Recipe, stack_dir: Path, name: str, force: bool = False) -> str:
    spec = recipe.secret(name)
    if spec.critical and not force:
        raise SecretError(
            f"refusing to rotate {name}: {spec.critical}",
            "if you really mean it (and have a backup), run again with --force",
        )
    value = generate(spec)
    merge_env(env_path(stack_dir), {}, replace={name: value})
    return value


def mask(value: str) -> str:
    return "•" * 8 if len(value) > 4 else "•" * len(value)
