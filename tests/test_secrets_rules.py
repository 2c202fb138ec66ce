"""Secrets are never replaced silently, never lost, and read back exactly as given."""

from __future__ import annotations

import io
import json
import stat
import sys
from pathlib import Path

import pytest

from stackctl import secrets
from stackctl.envfile import read_env
from stackctl.recipe import get_recipe


@pytest.fixture
def stack(site_file, run_cli, tmp_path) -> Path:
    site_file()
    assert run_cli("secrets", "gen", "ente").exit_code == 0
    return tmp_path / "stacks" / "docker-ente"


@pytest.fixture
def stdin(monkeypatch):
    def give(data: bytes) -> None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))

    return give


def kept_files(stack_dir: Path) -> list[Path]:
    folder = stack_dir / ".stackctl" / "secrets-old"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_a_value_ending_in_a_backslash_reads_back_whole(site_file, run_cli, stdin, tmp_path):
    site_file()
    stdin(b"abc\\\n")
    result = run_cli("secrets", "set", "ente", "ENTE_DB_PASSWORD")
    assert result.exit_code == 0, result.stderr
    assert read_env(tmp_path / "stacks" / "docker-ente" / ".env")["ENTE_DB_PASSWORD"] == "abc\\"


@pytest.mark.parametrize(
    "value", ["$HOME #x", 'it\'s "quoted"', "back\\slash\\", " spaced ", "é☃", "$$\\$"]
)
def test_set_stores_any_one_line_value_exactly(stack, run_cli, stdin, value):
    stdin(value.encode() + b"\n")
    result = run_cli("secrets", "set", "ente", "ENTE_DB_PASSWORD", "--force")
    assert result.exit_code == 0, result.stderr
    assert secrets.load(stack)["ENTE_DB_PASSWORD"] == value
    assert value not in result.stdout + result.stderr


def test_several_lines_are_refused_never_cut(stack, run_cli, stdin):
    before = (stack / ".env").read_bytes()
    stdin(b"first\nsecond\n")
    result = run_cli("secrets", "set", "ente", "ENTE_DB_PASSWORD", "--force")
    assert result.exit_code == 1 and "2 lines" in result.stderr
    assert (stack / ".env").read_bytes() == before and kept_files(stack) == []


def test_bytes_that_are_not_utf8_are_refused(stack, run_cli, stdin):
    before = (stack / ".env").read_bytes()
    stdin(b"caf\xe9\n")
    result = run_cli("secrets", "set", "ente", "ENTE_DB_PASSWORD", "--force")
    assert result.exit_code == 1 and "not UTF-8" in result.stderr
    assert (stack / ".env").read_bytes() == before


def test_a_text_stdin_is_read_too(stack, run_cli, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("text stream\n"))
    assert run_cli("secrets", "set", "ente", "ENTE_DB_PASSWORD", "--force").exit_code == 0
    assert secrets.load(stack)["ENTE_DB_PASSWORD"] == "text stream"


def test_replacing_a_critical_secret_needs_force_and_keeps_the_old_value(stack, run_cli, stdin):
    old = secrets.load(stack)["ENTE_DB_PASSWORD"]
    before = (stack / ".env").read_bytes()
    stdin(b"newpassword\n")
    refused = run_cli("secrets", "set", "ente", "ENTE_DB_PASSWORD")
    assert refused.exit_code == 1 and "refusing to replace ENTE_DB_PASSWORD" in refused.stderr
    assert "--force" in refused.stderr
    assert (stack / ".env").read_bytes() == before
    stdin(b"newpassword\n")
    forced = run_cli("secrets", "set", "ente", "ENTE_DB_PASSWORD", "--force")
    assert forced.exit_code == 0, forced.stderr
    (kept,) = kept_files(stack)
    assert str(kept) in forced.stdout
    assert read_env(kept) == {"ENTE_DB_PASSWORD": old}
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    assert secrets.load(stack)["ENTE_DB_PASSWORD"] == "newpassword"


def test_a_value_in_a_known_format_is_checked(stack, run_cli, stdin):
    before = (stack / ".env").read_bytes()
    stdin(b"bm90IDMyIGJ5dGVz\n")  # base64, but not of 32 bytes
    result = run_cli("secrets", "set", "ente", "ENTE_KEY_ENCRYPTION", "--force")
    assert result.exit_code == 1 and "decodes to 12 bytes, not 32" in result.stderr
    stdin(b"short\n")
    result = run_cli("secrets", "set", "ente", "ENTE_JWT_SECRET")
    assert result.exit_code == 1 and "is not" in result.stderr
    assert (stack / ".env").read_bytes() == before


def test_rotate_with_force_keeps_the_old_key_and_says_where(stack, run_cli):
    old = secrets.load(stack)["ENTE_KEY_ENCRYPTION"]
    result = run_cli("secrets", "rotate", "ente", "ENTE_KEY_ENCRYPTION", "--force")
    assert result.exit_code == 0, result.stderr
    (kept,) = kept_files(stack)
    assert kept.name.startswith("ENTE_KEY_ENCRYPTION-") and str(kept) in result.stdout
    assert read_env(kept) == {"ENTE_KEY_ENCRYPTION": old}
    assert secrets.load(stack)["ENTE_KEY_ENCRYPTION"] != old
    assert run_cli("secrets", "rotate", "ente", "ENTE_KEY_ENCRYPTION", "--force").exit_code == 0
    assert len(kept_files(stack)) == 2  # a second rotation in the same second keeps both


def test_an_empty_value_is_a_missing_value(stack, run_cli):
    env = stack / ".env"
    env.write_text(env.read_text().replace("ENTE_JWT_SECRET=", "ENTE_JWT_SECRET=\nX_OLD="))
    result = run_cli("secrets", "gen", "ente")
    assert result.exit_code == 0 and "created ENTE_JWT_SECRET" in result.stdout
    values = secrets.load(stack)
    spec = get_recipe("ente").secret("ENTE_JWT_SECRET")
    assert (
        values["ENTE_JWT_SECRET"] and secrets.check_format(spec, values["ENTE_JWT_SECRET"]) is None
    )


BROKEN = [
    "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY='abc\\'",  # stray quote: the old writer made these
    'ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY="a\\qb"',  # bad escape
    "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY",  # no value at all
]


@pytest.mark.parametrize("line", BROKEN)
@pytest.mark.parametrize(
    "command",
    [
        ["secrets", "gen", "mastodon"],
        ["secrets", "show", "mastodon"],
        ["secrets", "rotate", "mastodon", "OTP_SECRET"],
        ["plan", "mastodon"],
        ["render", "mastodon"],
    ],
)
def test_an_env_that_does_not_parse_stops_every_command(
    site_file, run_cli, tmp_path, line, command
):
    site_file()
    stack_dir = tmp_path / "stacks" / "docker-mastodon"
    secrets.ensure(get_recipe("mastodon"), stack_dir)
    env = stack_dir / ".env"
    lines = [
        x for x in env.read_text().splitlines() if "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY" not in x
    ]
    env.write_text("\n".join([*lines[:3], line, *lines[3:]]) + "\n")
    before = contents(stack_dir)
    result = run_cli(*command)
    assert result.exit_code == 1
    assert f"{env}:4: " in result.stderr
    assert contents(stack_dir) == before


def contents(folder: Path) -> dict[Path, bytes]:
    """Every file but stackctl's own bookkeeping (the lock, the network allocation)."""
    return {
        p: p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and ".stackctl" not in p.relative_to(folder).parts
    }


def test_a_missing_provided_secret_is_to_provide_not_kept(run_cli, site_file, stdin):
    site_file()
    (first,) = json.loads(run_cli("secrets", "gen", "ente", "--json").stdout)
    assert "ENTE_SMTP_PASSWORD" in first["to_provide"]
    assert "ENTE_SMTP_PASSWORD" not in first["kept"] + first["created"]
    said = run_cli("secrets", "gen", "ente")
    assert "ENTE_SMTP_PASSWORD" in said.stdout + said.stderr
    assert "all " not in said.stdout  # not "all N secrets present"
    stdin(b"relay-pass\n")
    piped = run_cli("secrets", "set", "ente", "ENTE_SMTP_PASSWORD")
    assert piped.exit_code == 0, piped.stderr
    (again,) = json.loads(run_cli("secrets", "gen", "ente", "--json").stdout)
    assert "ENTE_SMTP_PASSWORD" in again["kept"] and "ENTE_SMTP_PASSWORD" not in again["to_provide"]
