"""Read and write env files the way `docker compose` reads them, strictly.

A stack's `.env` holds keys that cannot be made again, so reading it never guesses: a line
that does not parse, a key set twice, a value compose would interpolate — each stops the
command with the file and line, before anything is written. What stackctl writes is quoted
so that compose (v2) and this reader both take it literally, byte for byte:

- letters, digits and `_./:@+=,-` stay bare;
- anything else goes in single quotes, which neither side interprets, unless the value holds
  a `'` or ends in a backslash (compose reads `\\'` as an escaped quote);
- those go in double quotes with `\\`, `"` and `$` escaped as `\\\\`, `\\"` and `$$`.

A value cannot hold a newline, a carriage return or a NUL byte.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stackctl.atomic import write_atomic
from stackctl.errors import SecretError

_PLAIN = re.compile(r"[A-Za-z0-9_./:@+=,-]*")
_ASSIGNMENT = re.compile(r"[ \t]*(export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(.*)")
_AFTER_QUOTE = re.compile(r"[ \t]*(#.*)?")
_FORBIDDEN = ("\n", "\r", "\0")

HEADER = "# Secrets for this stack, written by stackctl. Keep this file private (mode 0600)."
FIX_HINT = (
    "fix that line by hand (a value in single quotes is taken literally); "
    "stackctl changes nothing until the file parses"
)


@dataclass(frozen=True)
class Entry:
    """One KEY=value line of an env file, with where it was."""

    key: str
    value: str
    line: int  # 1-based
    export: bool = False


class _LineError(ValueError):
    """Why one line does not parse; never holds the line's value."""


# -- reading ---------------------------------------------------------------------------------


def parse_env(text: str, where: str) -> list[Entry]:
    """Every assignment of an env file; refuses what compose would read differently or not at all."""
    entries: list[Entry] = []
    first_seen: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        try:
            entry = _parse_line(line, number)
        except _LineError as exc:
            raise SecretError(f"{where}:{number}: {exc}", FIX_HINT) from None
        if entry.key in first_seen:
            raise SecretError(
                f"{where}:{number}: {entry.key} is set twice (first on line {first_seen[entry.key]})",
                "keep the value the app has been using and delete the other line; "
                "stackctl never picks one for you",
            )
        first_seen[entry.key] = number
        entries.append(entry)
    return entries


def _parse_line(line: str, number: int) -> Entry:
    if "\r" in line:
        raise _LineError("holds a carriage return (Windows line ends?); convert with dos2unix")
    match = _ASSIGNMENT.fullmatch(line)
    if not match:
        raise _LineError(
            "is not KEY=VALUE (a key is letters, digits and _, not starting with a digit)"
        )
    export, key, raw = match.groups()
    if raw[:1] in ("'", '"'):
        value = _quoted(raw, key)
    else:
        value = _unquoted(raw, key)
    return Entry(key, value, number, bool(export))


def _unquoted(raw: str, key: str) -> str:
    value = raw.split(" #", 1)[0].rstrip()
    if "$" in value:
        raise _LineError(
            f"the value of {key} holds '$', which compose would expand; put the value in single quotes"
        )
    return value


def _quoted(raw: str, key: str) -> str:
    """compose's rule: a backslash escapes the closing quote and is kept before anything else."""
    quote = raw[0]
    chars: list[str] = []
    escaped = False
    for index in range(1, len(raw)):
        char = raw[index]
        if char != quote:
            if char == "\\" and not escaped:
                escaped = True
                continue
            if escaped:
                escaped = False
                chars.append("\\")
            chars.append(char)
            continue
        if escaped:
            escaped = False
            chars.append(char)
            continue
        if not _AFTER_QUOTE.fullmatch(raw[index + 1 :]):
            raise _LineError(f"text follows the closing quote of {key}")
        body = "".join(chars)
        return body if quote == "'" else _double_quoted(body, key)
    raise _LineError(
        f"the quote that opens the value of {key} is never closed on this line "
        "(a value ending in a backslash escapes the closing quote)"
    )


def _double_quoted(body: str, key: str) -> str:
    """Only the escapes stackctl writes are accepted: \\\\, \\$ and $$."""
    out: list[str] = []
    index = 0
    while index < len(body):
        pair = body[index : index + 2]
        if pair in ("\\\\", "\\$", "$$"):
            out.append(pair[1])
            index += 2
        elif body[index] == "\\":
            raise _LineError(
                f"the value of {key} holds the escape {pair!r}; in double quotes stackctl accepts only "
                '\\\\, \\" and \\$ (use single quotes for a literal value)'
            )
        elif body[index] == "$":
            raise _LineError(
                f"the value of {key} holds '$', which compose would expand; write '$$' or use single quotes"
            )
        else:
            out.append(body[index])
            index += 1
    return "".join(out)


def check_path(path: Path) -> bool:
    """Whether an env file exists; refuses a link, a folder or anything but a regular file."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise SecretError(f"cannot read {path}: {exc.strerror}") from exc
    if stat.S_ISLNK(info.st_mode):
        raise SecretError(
            f"{path} is a symbolic link (to {os.readlink(path)}); stackctl keeps secrets only in a regular file",
            f'replace the link with the file itself: cp --remove-destination "$(readlink -f {path})" {path}',
        )
    if not stat.S_ISREG(info.st_mode):
        raise SecretError(
            f"{path} is not a regular file",
            "move it away; stackctl keeps the stack's secrets in a regular file there",
        )
    return True


def make_private(path: Path) -> None:
    """An env file others can read, or its folder, is reported and closed (0600 in 0700)."""
    from stackctl import console

    for target, wanted in ((path.parent, 0o700), (path, 0o600)):
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            continue
        if not mode & 0o077:
            continue
        try:
            os.chmod(target, wanted)
        except OSError as exc:
            raise SecretError(
                f"{target} is mode {mode:04o}, readable by others, and cannot be changed: {exc.strerror}",
                f"chmod {wanted:o} {target}",
            ) from exc
        console.warn(f"{target} was mode {mode:04o}, readable by others; set to {wanted:04o}")


def read_text(path: Path) -> str:
    """The file's text, or "" when it does not exist; refuses links, folders, binary."""
    if not check_path(path):
        return ""
    make_private(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SecretError(f"cannot read {path}: {exc.strerror}") from exc
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        raise SecretError(f"{path}:{line}: holds a NUL byte; this is not a text env file", FIX_HINT)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SecretError(f"{path}:{line}: is not UTF-8 text", FIX_HINT) from None
    return text


def read_entries(path: Path) -> list[Entry]:
    return parse_env(read_text(path), str(path))


def read_env(path: Path) -> dict[str, str]:
    return {entry.key: entry.value for entry in read_entries(path)}


# -- writing ---------------------------------------------------------------------------------


def format_value(value: str) -> str:
    """The value as compose and `parse_env` both read back unchanged."""
    if any(c in value for c in _FORBIDDEN):
        raise SecretError(
            "a value with a newline, carriage return or NUL byte cannot be stored in an env file",
            "give the value on one line",
        )
    if _PLAIN.fullmatch(value):
        return value
    if "'" not in value and not value.endswith("\\"):
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$")
    return f'"{escaped}"'


def merge_env(path: Path, new: Mapping[str, str], replace: Mapping[str, str] | None = None) -> None:
    """Fill `new` keys that are missing or empty; `replace` overwrites. Other lines stay as they are."""
    replace = replace or {}
    text = read_text(path)
    entries = {e.key: e for e in parse_env(text, str(path))}
    lines = text.split("\n") if text else []
    if lines and lines[-1] == "":
        lines.pop()
    appended = [] if lines else [HEADER]
    for key, value in {**new, **replace}.items():
        entry = entries.get(key)
        line = f"{key}={format_value(value)}"
        if entry is None:
            appended.append(line)
        elif key in replace or not entry.value:
            lines[entry.line - 1] = ("export " if entry.export else "") + line
    write_private(path, "\n".join([*lines, *appended]) + "\n")


def write_private(path: Path, text: str) -> None:
    """Atomic write with 0600 from the first byte, in a 0700 folder; never through a link."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    check_path(path)
    write_atomic(path, text, 0o600, dir_mode=0o700)
