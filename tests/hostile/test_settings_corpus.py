"""Hostile stackctl.toml: bad values, bad syntax, bad encodings. Each is refused with exit 2,
one error line naming the file or the key, and nothing written."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from tests.hostile.conftest import CORPUS, site_text

# Commands that read the site file, taken in turn so each kind of case meets each of them.
COMMANDS = (
    ("render", "ente"),
    ("plan", "ente"),
    ("secrets", "gen", "ente"),
    ("deploy", "ente"),
    ("deploy", "--dry-run", "ente"),
    ("proxy", "ente", "--write", "--root", "{world}/proxyroot"),
    ("host-snippets", "ente"),
    ("network", "plan", "ente"),
    ("secrets", "show", "ente"),
    ("secrets", "rotate", "ente", "ENTE_DB_PASSWORD"),
    ("status", "ente"),
    ("down", "ente"),
    ("images", "list", "ente"),
    ("logs", "ente"),
    ("recipes", "show", "ente"),
    ("render", "mastodon"),
    ("run", "ente", "promote-admin", "1580559962386438"),
)


def command(index: int, world: Path) -> list[str]:
    return [arg.replace("{world}", str(world)) for arg in COMMANDS[index % len(COMMANDS)]]


def value_cases(name: str = "values.txt") -> list[tuple[str, str]]:
    cases = []
    for line in (CORPUS / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            table, _, assignment = line.rpartition("] ") if line.startswith("[") else ("", "", line)
            cases.append((f"{table}]" if table else "", assignment))
    return cases


def key_of(assignment: str) -> str:
    return assignment.split("=", 1)[0].strip().strip('"')


VALUES = value_cases()


@pytest.mark.parametrize(
    ("index", "table", "assignment"),
    [(i, t, a) for i, (t, a) in enumerate(VALUES)],
    ids=[f"{t}{a}"[:60] for t, a in VALUES],
)
def test_a_hostile_value_is_refused(world: Path, refuses, index, table, assignment):
    text = site_text(world)
    if table:
        text += f"\n{table}\n"
    # a top-level key must come before any table; replacing the key keeps one definition
    key = key_of(assignment)
    if not table:
        text = "".join(
            line + "\n" for line in text.splitlines() if key_of(line) != key or "=" not in line
        )
        text = assignment + "\n" + text
    else:
        text += assignment + "\n"
    (world / "stackctl.toml").write_text(text, encoding="utf-8")
    argv = command(index, world)
    refuses(*argv, exit_code=2, mentions=key if table != "[stacks.nextcloud]" else "nextcloud")


def document_cases() -> list[tuple[str, str]]:
    text = (CORPUS / "bad_toml.txt").read_text(encoding="utf-8")
    blocks = text.split("\n---\n")
    cases = []
    for block in blocks[1:]:  # the first block is the file's own explanation
        title, _, body = block.partition("\n")
        cases.append((title.strip(), body))
    return cases


DOCUMENTS = document_cases()


@pytest.mark.parametrize(
    ("index", "body"),
    [(i, body) for i, (_t, body) in enumerate(DOCUMENTS)],
    ids=[title for title, _b in DOCUMENTS],
)
def test_a_broken_settings_file_is_refused(world: Path, refuses, index, body):
    (world / "stackctl.toml").write_text(site_text(world) + body, encoding="utf-8")
    refuses(*command(index, world), exit_code=2, mentions="stackctl.toml")


def _encoded(world: Path) -> dict[str, bytes]:
    text = site_text(world) + '[stacks.ente]\napi_hostname = "fotos-é.test.lan"\n'
    return {
        "utf-16": text.encode("utf-16"),
        "utf-16-le-no-bom": text.encode("utf-16-le"),
        "utf-32": text.encode("utf-32"),
        "latin-1": text.encode("latin-1"),
        "cp1252": text.encode("cp1252"),
        "utf-8-bom": codecs.BOM_UTF8 + text.encode(),
        "nul-bytes": text.encode().replace(b"\n", b"\n\x00", 1),
        "binary": bytes(range(256)) * 4,
        "truncated-utf-8": text.encode()[:-4] + "é".encode()[:1],
        "nested-100k-arrays": b"x = " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
        "nested-100k-tables": b"x = " + b"{a = " * 100_000 + b"1" + b"}" * 100_000 + b"\n",
        "dotted-key-100k": b"a" + b".a" * 100_000 + b" = 1\n",
        "huge-integer": b"subnet_prefix = " + b"9" * 5000 + b"\n",
    }


ENCODINGS = sorted(_encoded(Path("/x")))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_settings_file_in_a_wrong_encoding_is_refused(world: Path, refuses, encoding):
    (world / "stackctl.toml").write_bytes(_encoded(world)[encoding])
    argv = command(ENCODINGS.index(encoding), world)
    refuses(*argv, exit_code=2, mentions="stackctl.toml")


# Commands that open the stack: where the ports it publishes are checked against the others.
OPENING = (
    ("render", "{stack}"),
    ("plan", "{stack}"),
    ("deploy", "{stack}"),
    ("proxy", "{stack}"),
    ("host-snippets", "{stack}"),
)
PORTS = [
    (table, assignment, argv) for table, assignment in value_cases("ports.txt") for argv in OPENING
]


@pytest.mark.parametrize(
    ("table", "assignment", "argv"),
    PORTS,
    ids=[f"{t}{a} {a2[0]}" for t, a, a2 in PORTS],
)
def test_a_port_another_stack_publishes_is_refused(world: Path, refuses, table, assignment, argv):
    stack = table.removeprefix("[stacks.").removesuffix("]")
    (world / "stackctl.toml").write_text(site_text(world) + f"\n{table}\n{assignment}\n")
    outcome = refuses(*(a.replace("{stack}", stack) for a in argv), exit_code=2)
    assert "both publish port" in outcome.errors[0] and key_of(assignment) in outcome.errors[0]
