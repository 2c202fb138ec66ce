"""Read and write a stack's .env: mode 0600 in a 0700 folder, existing values always win."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from dotenv import dotenv_values

from stackctl.errors import SecretError

_PLAIN = re.compile(r"^[A-Za-z0-9_./:@+=,-]*$")


def read_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        values = dotenv_values(path, interpolate=False)
    except OSError as exc:
        raise SecretError(f"cannot read {path}: {exc.strerror}") from exc
    return {k: v for k, v in values.items() if v is not None}


def format_value(value: str) -> str:
    """Quote so that both compose and python-dotenv read the value back unchanged."""
    if _PLAIN.match(value):
        return value
    if "'" in value or "\n" in value:
        raise SecretError(
            "a secret contains a quote or newline and cannot be written safely to .env"
        )
    return f"'{value}'"


def merge_env(path: Path, new: dict[str, str], replace: dict[str, str] | None = None) -> None:
    """Add `new` keys that are missing; `replace` overwrites (rotation). Other lines are kept as they are."""
    replace = replace or {}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    existing = read_env(path)
    out = []
    for line in lines:
        key = line.split("=", 1)[0].strip().removeprefix("export ").strip()
        if "=" in line and key in replace:
            out.append(f"{key}={format_value(replace[key])}")
        else:
            out.append(line)
    added = [k for k in new if k not in existing]
    if added and not lines:
        out.append(
            "# Secrets for this stack, written by stackctl. Keep this file private (mode 0600)."
        )
    out.extend(f"{key}={format_value(new[key])}" for key in added)
    write_private(path, "\n".join(out) + "\n")


def write_private(path: Path, text: str) -> None:
    """Atomic write with 0600 from the first byte, in a 0700 folder."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".env.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
