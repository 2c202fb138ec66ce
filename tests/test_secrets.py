"""Secrets: exact formats, 0600/0700, existing values win, critical keys are not rotated silently."""

import base64
import stat

import pytest

from stackctl import secrets
from stackctl.envfile import read_env
from stackctl.errors import SecretError
from stackctl.recipe import get_recipe


def test_ente_formats(tmp_path):
    recipe = get_recipe("ente")
    secrets.ensure(recipe, tmp_path)
    values = secrets.load(tmp_path)
    assert len(base64.b64decode(values["ENTE_KEY_ENCRYPTION"], validate=True)) == 32
    assert len(values["ENTE_KEY_ENCRYPTION"]) == 44
    assert len(base64.b64decode(values["ENTE_KEY_HASH"], validate=True)) == 64
    assert len(values["ENTE_KEY_HASH"]) == 88
    jwt = values["ENTE_JWT_SECRET"]
    assert len(jwt) == 44 and jwt.endswith("=") and "+" not in jwt and "/" not in jwt
    assert len(base64.urlsafe_b64decode(jwt)) == 32
    assert values["ENTE_DB_PASSWORD"].isalnum() and len(values["ENTE_DB_PASSWORD"]) == 32
    assert values["ENTE_MINIO_KEY"].startswith("ente-")
    for spec in (s for s in recipe.secrets if s.format != "provided"):
        assert secrets.check_format(spec, values[spec.name]) is None


def test_file_modes_and_existing_values_win(tmp_path):
    stack_dir = tmp_path / "docker-ente"
    recipe = get_recipe("ente")
    stack_dir.mkdir()
    (stack_dir / ".env").write_text("# mine\nENTE_DB_PASSWORD=keepme\nOTHER=1\n")
    result = secrets.ensure(recipe, stack_dir)
    assert "ENTE_DB_PASSWORD" not in result.created
    text = (stack_dir / ".env").read_text()
    assert text.startswith("# mine\nENTE_DB_PASSWORD=keepme\nOTHER=1\n")
    assert stat.S_IMODE((stack_dir / ".env").stat().st_mode) == 0o600
    assert stat.S_IMODE(stack_dir.stat().st_mode) == 0o700
    again = secrets.ensure(recipe, stack_dir)
    assert again.created == ()
    assert (stack_dir / ".env").read_text() == text


def test_rotation_of_data_keys_is_refused_without_force(tmp_path):
    recipe = get_recipe("ente")
    secrets.ensure(recipe, tmp_path)
    before = read_env(tmp_path / ".env")
    with pytest.raises(SecretError, match="unreadable") as err:
        secrets.rotate(recipe, tmp_path, "ENTE_KEY_ENCRYPTION")
    assert "--force" in err.value.hint
    assert read_env(tmp_path / ".env") == before
    secrets.rotate(recipe, tmp_path, "ENTE_JWT_SECRET")
    after = read_env(tmp_path / ".env")
    assert after["ENTE_JWT_SECRET"] != before["ENTE_JWT_SECRET"]
    assert after["ENTE_KEY_HASH"] == before["ENTE_KEY_HASH"]
    secrets.rotate(recipe, tmp_path, "ENTE_KEY_ENCRYPTION", force=True)
    assert read_env(tmp_path / ".env")["ENTE_KEY_ENCRYPTION"] != before["ENTE_KEY_ENCRYPTION"]


def test_check_format_spots_bad_values():
    spec = get_recipe("ente").secret("ENTE_KEY_ENCRYPTION")
    assert "31 bytes" in secrets.check_format(spec, base64.b64encode(b"x" * 31).decode())
    assert secrets.check_format(spec, "not base64!") is not None
    jwt = get_recipe("ente").secret("ENTE_JWT_SECRET")
    assert "padded" in secrets.check_format(
        jwt, base64.urlsafe_b64encode(b"y" * 32).decode().rstrip("=")
    )
