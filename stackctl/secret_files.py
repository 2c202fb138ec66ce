"""Secrets that are files: a PEM key, a JSON or YAML fragment an app reads from disk.

A recipe declares them as `[[secret_files]]` (name, path in the stack folder, format,
mode, uid, gid); the compose file mounts them. They follow the rules of `.env` values: an
existing file always wins, replacing a critical one needs --force, the replaced content is
kept under .stackctl/secrets-old/, and no command prints one. The owner and mode are set
on every run, so a container user (say uid 65532) can read its key and nobody else can.

Formats are a registry like the `.env` ones: `@file_format("name", check=...)`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stackctl import registry
from stackctl.envfile import check_path, write_private
from stackctl.errors import SecretError, StackctlError
from stackctl.recipe import SecretFile

if TYPE_CHECKING:
    from pathlib import Path

    from stackctl.recipe import Recipe

Generate = Callable[[SecretFile], bytes]
Check = Callable[[SecretFile, bytes], "str | None"]


@dataclass(frozen=True)
class FileFormat:
    """How a secret file is generated and checked."""

    generate: Generate
    check: Check | None = None


FILE_FORMATS: registry.Registry[FileFormat] = registry.Registry()


def file_format(name: str, check: Check | None = None) -> Callable[[Generate], Generate]:
    def register(generate: Generate) -> Generate:
        registry.add(FILE_FORMATS, "secret file format", name, FileFormat(generate, check))
        return generate

    return register


def _format(spec: SecretFile) -> FileFormat:
    if spec.format not in FILE_FORMATS:
        raise SecretError(
            f"secret file {spec.name}: unknown format {spec.format!r}",
            "known: " + ", ".join(sorted(FILE_FORMATS)),
        )
    return FILE_FORMATS[spec.format]


# -- PEM private keys (unencrypted: the app reads them without a passphrase) -------------------
# `encoding = "pkcs8"` (the default) writes BEGIN PRIVATE KEY; "traditional" writes PKCS#1 for
# RSA and SEC1 for EC keys (BEGIN RSA PRIVATE KEY / BEGIN EC PRIVATE KEY, with the curve's OID).

_CURVES = {"P-256": "SECP256R1", "P-384": "SECP384R1", "secp256k1": "SECP256K1"}
_ENCODINGS = {"pkcs8": "PKCS8", "traditional": "TraditionalOpenSSL"}
_HEADERS = {
    ("pkcs8", "rsa"): b"-----BEGIN PRIVATE KEY-----",
    ("pkcs8", "ec"): b"-----BEGIN PRIVATE KEY-----",
    ("traditional", "rsa"): b"-----BEGIN RSA PRIVATE KEY-----",
    ("traditional", "ec"): b"-----BEGIN EC PRIVATE KEY-----",
}


def _pem(key: object, spec: SecretFile) -> bytes:
    from cryptography.hazmat.primitives import serialization

    if spec.encoding not in _ENCODINGS:
        raise SecretError(
            f"secret file {spec.name}: encoding must be one of {', '.join(_ENCODINGS)}"
        )
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        getattr(serialization.PrivateFormat, _ENCODINGS[spec.encoding]),
        serialization.NoEncryption(),
    )


def _encoding_problem(spec: SecretFile, data: bytes, family: str) -> str | None:
    header = _HEADERS.get((spec.encoding, family))
    if header is not None and not data.lstrip().startswith(header):
        return f"is not in the {spec.encoding} PEM encoding ({header.decode()})"
    return None


def _load_key(data: bytes) -> object | None:
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        return None


def _check_rsa(spec: SecretFile, data: bytes) -> str | None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = _load_key(data)
    if not isinstance(key, rsa.RSAPrivateKey):
        return "is not an unencrypted RSA private key in PEM"
    if key.key_size != spec.bits:
        return f"is a {key.key_size}-bit RSA key, not {spec.bits}-bit"
    return _encoding_problem(spec, data, "rsa")


@file_format("pem-rsa", check=_check_rsa)
def _rsa(spec: SecretFile) -> bytes:
    from cryptography.hazmat.primitives.asymmetric import rsa

    if spec.bits not in (2048, 3072, 4096):
        raise SecretError(f"secret file {spec.name}: bits must be 2048, 3072 or 4096")
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=spec.bits), spec)


def _check_ec(spec: SecretFile, data: bytes) -> str | None:
    from cryptography.hazmat.primitives.asymmetric import ec

    key = _load_key(data)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return "is not an unencrypted EC private key in PEM"
    if key.curve.name != _CURVES.get(spec.curve, "").lower():
        return f"is on curve {key.curve.name}, not {spec.curve}"
    return _encoding_problem(spec, data, "ec")


@file_format("pem-ec", check=_check_ec)
def _ec(spec: SecretFile) -> bytes:
    from cryptography.hazmat.primitives.asymmetric import ec

    if spec.curve not in _CURVES:
        raise SecretError(f"secret file {spec.name}: curve must be one of {', '.join(_CURVES)}")
    return _pem(ec.generate_private_key(getattr(ec, _CURVES[spec.curve])()), spec)


# -- the files themselves ---------------------------------------------------------------------


def path_of(stack_dir: Path, spec: SecretFile) -> Path:
    return stack_dir / spec.path


def check(spec: SecretFile, data: bytes) -> str | None:
    checker = _format(spec).check
    return checker(spec, data) if checker else None


def _write(path: Path, spec: SecretFile, data: bytes) -> None:
    write_private(path, data.decode("utf-8"))
    os.chmod(path, spec.mode)
    if spec.uid is not None or spec.gid is not None:
        os.chown(path, -1 if spec.uid is None else spec.uid, -1 if spec.gid is None else spec.gid)


def _fix_owner_and_mode(path: Path, spec: SecretFile) -> bool:
    found = path.stat()
    changed = False
    if found.st_mode & 0o7777 != spec.mode:
        os.chmod(path, spec.mode)
        changed = True
    uid = found.st_uid if spec.uid is None else spec.uid
    gid = found.st_gid if spec.gid is None else spec.gid
    if (found.st_uid, found.st_gid) != (uid, gid):
        os.chown(path, uid, gid)
        changed = True
    return changed


def ensure(recipe: Recipe, stack_dir: Path, dry_run: bool = False) -> list[str]:
    """Create the missing secret files; an existing one is kept, its owner and mode set."""
    created = []
    for spec in recipe.secret_files:
        path = path_of(stack_dir, spec)
        if path.is_symlink():
            check_path(path)  # refuses a link with the message .env files get
        if path.is_file() and path.stat().st_size:
            if not dry_run:
                _fix_owner_and_mode(path, spec)
            continue
        created.append(spec.name)
        if not dry_run:
            _write(path, spec, _format(spec).generate(spec))
    return created


def keep_old(stack_dir: Path, spec: SecretFile) -> Path | None:
    """Copy the current file to .stackctl/secrets-old/ (0600) before it is replaced."""
    current = path_of(stack_dir, spec)
    if not current.is_file():
        return None
    folder = stack_dir / ".stackctl" / "secrets-old"
    target = folder / f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    serial = 1
    while target.exists():
        serial += 1
        target = folder / f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}-{serial}"
    write_private(target, current.read_text(encoding="utf-8"))
    return target


def replace(
    recipe: Recipe, stack_dir: Path, name: str, data: bytes | None, force: bool = False
) -> Path | None:
    """Rotate (data None) or set a secret file; returns where the old content was kept."""
    spec = recipe.secret_file(name)
    path = path_of(stack_dir, spec)
    if spec.critical and path.is_file() and not force:
        raise SecretError(
            f"refusing to replace {name}: {spec.critical}",
            "if you really mean it (and have a backup), run again with --force; "
            "the old file is kept under the stack's .stackctl/secrets-old/",
        )
    if data is None:
        data = _format(spec).generate(spec)
    else:
        problem = check(spec, data)
        if problem:
            raise SecretError(
                f"the content given for {name} {problem}",
                f"{name} is a {spec.format} file; nothing was changed",
            )
    folder = stack_dir / ".stackctl" / "secrets-old"
    had_folder = folder.is_dir()
    kept = None
    before = _read(path)
    try:
        kept = keep_old(stack_dir, spec)
        _write(path, spec, data)
    except (OSError, StackctlError):
        if _read(path) == before:  # the old file is in place: a copy is debris
            from stackctl.secrets import discard_copy

            discard_copy(kept, None if had_folder else folder)
        raise
    return kept


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None
