"""Secret files: generated in their format, owned by the container user, never replaced
silently, never printed, the replaced one kept."""

from __future__ import annotations

import io
import os
import shutil
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from stackctl import secret_files
from stackctl.recipe import SecretFile
from stackctl.recipe_check import check_folder

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "recipes" / "example" / "greeter"
KEYS = """
[[secret_files]]
name = "signing-key"
path = "keys/signing.pem"
format = "pem-ec"
mode = 0o400
uid = 65532
gid = 65532
critical = "tokens signed with it stop verifying"

[[secret_files]]
name = "rsa-key"
path = "keys/rsa.pem"
format = "pem-rsa"
bits = 2048
"""


@pytest.fixture
def keyed(tmp_path: Path, site_file) -> Path:
    """The example recipe with two key files, from the site's recipe_paths; the stack folder."""
    folder = tmp_path / "recipes" / "greeter"
    shutil.copytree(EXAMPLE, folder)
    with (folder / "recipe.toml").open("a") as toml:
        toml.write(KEYS)
    site_file(extra=f'recipe_paths = ["{folder.parent}"]\n')
    return tmp_path / "stacks" / "docker-greeter"


def pem_of(stack: Path, name: str) -> bytes:
    return (stack / "keys" / name).read_bytes()


def test_gen_makes_each_key_in_its_format_mode_and_owner(keyed, run_cli):
    result = run_cli("secrets", "gen", "greeter")
    assert result.exit_code == 0, result.stderr
    assert "signing-key" in result.stdout and "rsa-key" in result.stdout
    ec_key = serialization.load_pem_private_key(pem_of(keyed, "signing.pem"), None)
    assert isinstance(ec_key, ec.EllipticCurvePrivateKey) and ec_key.curve.name == "secp256r1"
    rsa_key = serialization.load_pem_private_key(pem_of(keyed, "rsa.pem"), None)
    assert isinstance(rsa_key, rsa.RSAPrivateKey) and rsa_key.key_size == 2048
    found = (keyed / "keys" / "signing.pem").stat()
    assert found.st_mode & 0o777 == 0o400
    if os.geteuid() == 0:  # only root can give a file away
        assert (found.st_uid, found.st_gid) == (65532, 65532)


def test_an_existing_file_wins_and_its_mode_is_put_back(keyed, run_cli):
    run_cli("secrets", "gen", "greeter")
    before = pem_of(keyed, "signing.pem")
    os.chmod(keyed / "keys" / "signing.pem", 0o644)
    again = run_cli("secrets", "gen", "greeter")
    assert again.exit_code == 0 and "nothing changed" in again.stdout
    assert pem_of(keyed, "signing.pem") == before
    assert (keyed / "keys" / "signing.pem").stat().st_mode & 0o777 == 0o400


def test_no_command_prints_a_key(keyed, run_cli):
    run_cli("secrets", "gen", "greeter")
    secret_lines = pem_of(keyed, "signing.pem").decode().splitlines()[1:-1]
    for args in (("secrets", "show", "greeter"), ("secrets", "show", "greeter", "--reveal")):
        shown = run_cli(*args)
        assert shown.exit_code == 0, shown.stderr
        assert "signing-key" in shown.stdout
        assert not any(line in shown.stdout + shown.stderr for line in secret_lines)


def test_a_critical_file_is_rotated_only_with_force_and_the_old_one_kept(keyed, run_cli):
    run_cli("secrets", "gen", "greeter")
    before = pem_of(keyed, "signing.pem")
    refused = run_cli("secrets", "rotate", "greeter", "signing-key")
    assert refused.exit_code == 1 and "tokens signed with it stop verifying" in refused.stderr
    assert pem_of(keyed, "signing.pem") == before
    rotated = run_cli("secrets", "rotate", "greeter", "signing-key", "--force")
    assert rotated.exit_code == 0, rotated.stderr
    assert pem_of(keyed, "signing.pem") != before
    kept = list((keyed / ".stackctl" / "secrets-old").glob("signing-key-*"))
    assert [k.read_bytes() for k in kept] == [before]
    assert kept[0].stat().st_mode & 0o777 == 0o600


def test_set_takes_a_whole_pem_from_stdin_and_checks_it(keyed, run_cli, monkeypatch):
    run_cli("secrets", "gen", "greeter")
    mine = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = mine.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"not a key\n")))
    wrong = run_cli("secrets", "set", "greeter", "rsa-key")
    assert wrong.exit_code == 1 and "is not an unencrypted RSA private key" in wrong.stderr
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(pem)))
    stored = run_cli("secrets", "set", "greeter", "rsa-key")
    assert stored.exit_code == 0, stored.stderr
    assert pem_of(keyed, "rsa.pem") == pem


@pytest.mark.parametrize(
    ("spec", "data", "problem"),
    [
        (SecretFile("k", "k.pem", "pem-rsa", bits=3072), "rsa2048", "not 3072-bit"),
        (SecretFile("k", "k.pem", "pem-ec", curve="P-384"), "ec256", "not P-384"),
        (SecretFile("k", "k.pem", "pem-ec"), "rsa2048", "is not an unencrypted EC"),
    ],
)
def test_a_key_of_the_wrong_kind_or_size_is_named(spec, data, problem):
    made = {
        "rsa2048": secret_files.FILE_FORMATS["pem-rsa"].generate(SecretFile("k", "k", "pem-rsa")),
        "ec256": secret_files.FILE_FORMATS["pem-ec"].generate(SecretFile("k", "k", "pem-ec")),
    }
    assert problem in (secret_files.check(spec, made[data]) or "")


def test_a_secret_file_outside_the_stack_folder_or_of_no_format_is_refused(tmp_path):
    folder = tmp_path / "greeter"
    shutil.copytree(EXAMPLE, folder)
    with (folder / "recipe.toml").open("a") as toml:
        toml.write('\n[[secret_files]]\nname = "k"\npath = "../k.pem"\nformat = "pem-dsa"\n')
    assert {p.key for p in check_folder(folder)} == {
        "secret_files[k].path",
        "secret_files[k].format",
    }


@pytest.mark.parametrize(
    ("spec", "header", "curve"),
    [
        (SecretFile("k", "k", "pem-rsa", encoding="traditional"), "RSA PRIVATE KEY", None),
        (
            SecretFile("k", "k", "pem-ec", curve="P-256", encoding="traditional"),
            "EC PRIVATE KEY",
            "secp256r1",
        ),
        (
            SecretFile("k", "k", "pem-ec", curve="P-384", encoding="traditional"),
            "EC PRIVATE KEY",
            "secp384r1",
        ),
        (
            SecretFile("k", "k", "pem-ec", curve="secp256k1", encoding="traditional"),
            "EC PRIVATE KEY",
            "secp256k1",
        ),
        (SecretFile("k", "k", "pem-ec", curve="secp256k1"), "PRIVATE KEY", "secp256k1"),
    ],
)
def test_traditional_encodings_and_secp256k1_are_made_and_checked(spec, header, curve):
    from cryptography.hazmat.primitives import serialization

    data = secret_files.FILE_FORMATS[spec.format].generate(spec)
    assert data.startswith(f"-----BEGIN {header}-----\n".encode())
    key = serialization.load_pem_private_key(data, None)
    if curve:
        assert key.curve.name == curve
    assert secret_files.check(spec, data) is None


def test_a_pkcs8_key_where_the_traditional_encoding_is_wanted_is_named():
    pkcs8 = secret_files.FILE_FORMATS["pem-rsa"].generate(SecretFile("k", "k", "pem-rsa"))
    wanted = SecretFile("k", "k", "pem-rsa", encoding="traditional")
    assert "traditional PEM encoding" in (secret_files.check(wanted, pkcs8) or "")
    with pytest.raises(Exception, match="encoding must be one of"):
        secret_files.FILE_FORMATS["pem-ec"].generate(SecretFile("k", "k", "pem-ec", encoding="der"))
