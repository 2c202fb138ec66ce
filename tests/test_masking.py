"""Output never shows a secret: lines are masked by what they are, whatever their value."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackctl import secrets
from stackctl.files import RenderedFile, plan_files
from stackctl.masking import mask_text, masked_diff


def test_a_secret_key_is_masked_in_any_file_whatever_its_length():
    text = "A=1\nexport DB_PASS=x\n  - DB_PASS=yz\nDB_PASS: q\nOTHER=visible\n"
    masked = mask_text(text, {"DB_PASS"}, secret_file=False)
    assert "A=1\n" in masked and "OTHER=visible\n" in masked
    assert masked.count("<secret ") == 3
    for value in ("=x\n", "=yz\n", ": q\n"):
        assert value not in masked


def test_a_compose_reference_is_not_a_value():
    text = '      DB_PASS: "${DB_PASS:?missing from .env}"\n      DB_PASS: "${DB_PASS:-fallback}"\n'
    masked = mask_text(text, {"DB_PASS"}, secret_file=False)
    assert masked.startswith('      DB_PASS: "${DB_PASS:?missing from .env}"\n')
    assert "fallback" not in masked  # a default could be a value
    assert "${DB_PASS" not in mask_text(text, set(), secret_file=True)


def test_a_secret_file_shows_keys_and_its_own_comments_only():
    disk = "# rendered comment\n# my old password: hunter2\nLOCAL_DOMAIN=a.lan\nfree text\n\n"
    masked = mask_text(disk, set(), secret_file=True, known_lines=["# rendered comment"])
    assert masked.startswith("# rendered comment\n<secret line ")
    assert "hunter2" not in masked and "a.lan" not in masked and "free text" not in masked
    assert "LOCAL_DOMAIN=<secret " in masked and masked.endswith("\n\n")


def test_fingerprints_show_a_change_without_the_value():
    one, two = (mask_text(f"K={v}\n", {"K"}, False) for v in ("ab", "ac"))
    assert one != two and mask_text("K=ab\n", {"K"}, False) == one


def test_a_diff_masks_values_no_longer_in_env(tmp_path):
    (tmp_path / "app.env").write_text("TOKEN=old-rotated-value\nHOST=a\n")
    change = plan_files(tmp_path, [RenderedFile("app.env", "TOKEN=new\nHOST=b\n")], {})[0]
    diff = masked_diff(change, {"TOKEN"})
    assert "old-rotated-value" not in diff and "TOKEN=new" not in diff
    assert "-TOKEN=<secret " in diff and "+TOKEN=<secret " in diff
    assert "-HOST=a" in diff and "+HOST=b" in diff


@pytest.fixture
def mastodon(site_file, run_cli, tmp_path) -> Path:
    site_file()
    assert run_cli("secrets", "gen", "mastodon").exit_code == 0
    result = run_cli("render", "mastodon")
    assert result.exit_code == 0, result.stderr
    return tmp_path / "stacks" / "docker-mastodon"


def test_plan_diff_never_prints_a_rotated_value(mastodon, run_cli):
    old = secrets.load(mastodon)["SECRET_KEY_BASE"]
    assert run_cli("secrets", "rotate", "mastodon", "SECRET_KEY_BASE").exit_code == 0
    new = secrets.load(mastodon)["SECRET_KEY_BASE"]
    result = run_cli("plan", "mastodon", "--diff")
    assert result.exit_code == 0, result.stderr
    assert "-SECRET_KEY_BASE=<secret " in result.stdout
    assert "+SECRET_KEY_BASE=<secret " in result.stdout
    assert old not in result.stdout + result.stderr
    assert new not in result.stdout + result.stderr


@pytest.mark.parametrize("value", ["x", "ab1", "hand-made-password"])
def test_plan_diff_never_prints_a_hand_edited_secret(mastodon, run_cli, value):
    production = mastodon / ".env.production"
    text = production.read_text()
    start = text.index("DB_PASS=")
    end = text.index("\n", start)
    production.write_text(text[:start] + f"DB_PASS={value}\n# note: {value}" + text[end:])
    result = run_cli("plan", "mastodon", "--diff")
    assert result.exit_code == 0 and "conflict" in result.stdout
    assert f"DB_PASS={value}" not in result.stdout and f"note: {value}" not in result.stdout
    assert "DB_PASS=<secret " in result.stdout
