"""What output may show of a file: never a secret value.

Lines are masked by what they are, not by comparing them with today's secrets (an old,
rotated or hand-edited value matches none of those):

- in any file, an assignment to a secret's name (`KEY=value`, `export KEY=value`,
  `- KEY=value`, `KEY: value`) shows the key and a fingerprint instead of the value,
  unless the value is only a compose reference to `.env` (`"${KEY:?message}"`);
- in a file marked secret, every assignment is shown that way and every other line is
  replaced by a fingerprint, except the comments stackctl itself renders.

A fingerprint is keyed with a random key made once per run: within one diff it shows
whether a value changed, and it cannot be compared with a guess or with another run.
"""

from __future__ import annotations

import difflib
import hashlib
import hmac
import os
import re
from collections.abc import Iterable

from stackctl.files import FileChange

MASK = "•" * 8

_RUN_KEY = os.urandom(32)
_ASSIGNMENT = re.compile(
    r"(?P<head>[ \t]*(?:export[ \t]+|-[ \t]*)?(?P<key>[A-Za-z_][A-Za-z0-9_.]*)[ \t]*[=:][ \t]*)(?P<value>.*)"
)


# `"${NAME:?message}"`: a compose file's reference to a .env value, never a value itself
_REFERENCE = re.compile(r"""(["']?)\$\{[A-Za-z_][A-Za-z0-9_]*(?::\?[^}]*)?\}\1""")


def fingerprint(value: str) -> str:
    return hmac.new(_RUN_KEY, value.encode(), hashlib.sha256).hexdigest()[:6]


def mask_value(value: str) -> str:
    return f"<secret {fingerprint(value)}>" if value else ""


def mask_text(
    text: str, secret_names: Iterable[str], secret_file: bool, known_lines: Iterable[str] = ()
) -> str:
    """The text with every secret value masked; `known_lines` are lines stackctl rendered."""
    names = set(secret_names)
    known = set(known_lines)
    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        end = line[len(body) :]
        out.append(_mask_line(body, names, secret_file, known) + end)
    return "".join(out)


def _mask_line(line: str, names: set[str], secret_file: bool, known: set[str]) -> str:
    stripped = line.strip()
    match = _ASSIGNMENT.fullmatch(line)
    if match and (secret_file or match["key"] in names):
        if not secret_file and _REFERENCE.fullmatch(match["value"].strip()):
            return line
        return match["head"] + mask_value(match["value"])
    if not secret_file or not stripped:
        return line
    if stripped.startswith("#") and line in known:
        return line
    return f"<secret line {fingerprint(line)}>"


def masked_diff(change: FileChange, secret_names: Iterable[str]) -> str:
    """A unified diff of disk against what stackctl would write, secret values masked."""
    names = set(secret_names)
    new = change.file.content
    rendered = new.splitlines()

    def masked(text: str) -> list[str]:
        return mask_text(text, names, change.file.secret, rendered).splitlines(keepends=True)

    lines = difflib.unified_diff(
        masked(change.current or ""),
        masked(new),
        fromfile=f"{change.file.path} (on disk)",
        tofile=f"{change.file.path} (stackctl)",
    )
    return "".join(lines)
