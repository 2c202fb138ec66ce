"""Mastodon's secrets in its exact formats, and the Postgres role password verifier."""

import base64
import string

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from stackctl import secrets
from stackctl.envfile import read_env
from stackctl.errors import SecretError
from stackctl.paths import stacks_dir
from stackctl.recipe import Secret, get_recipe
from stackctl.recipe_module import load

HEX = set("0123456789abcdef")
ALNUM = set(string.ascii_letters + string.digits)
AR_KEYS = [
    "ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY",
    "ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT",
    "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY",
]
# Published pairs: a `mastodon:setup` run (facts sheet) and the seed's setup transcript.
KNOWN_PAIRS = [
    (
        "z_qGhzPeqjaDz1GldcNtz0wQ5tSID3jY7-doDXTyyMQ=",
        "BD-NlWLlExCWk",
        "IUmE=",
    ),
    (
        "WvVnHQlzJEQXDuJqR8q1m7CHRGnWI1EiIdO75Di0oDA=",
        "BLOn5R3ILCIgzQ0VY3cjXFe-IyHSBVtscIG-SaL3pcAOcEqRN4sZAkyAf0iRg6hZuFUVHuFhn1Dm7pZZbNoTF2g=",
        "",
    ),
]

kinds = load(stacks_dir() / "mastodon")  # the recipe's own kinds (stacks/mastodon/kinds.py)


@pytest.fixture
def generated(tmp_path):
    recipe = get_recipe("mastodon")
    result = secrets.ensure(recipe, tmp_path)
    return recipe, tmp_path, result, read_env(tmp_path / ".env")


def public_point_of(private: str) -> bytes:
    """Independent of stackctl: the uncompressed point of the private scalar."""
    scalar = int.from_bytes(base64.urlsafe_b64decode(private), "big")
    numbers = ec.derive_private_key(scalar, ec.SECP256R1()).public_key().public_numbers()
    return b"\x04" + numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")


def test_every_generated_secret_has_mastodons_format(generated):
    recipe, _, result, env = generated
    provided = {"OIDC_CLIENT_SECRET", "SMTP_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert set(result.created) == set(secrets.names(recipe)) - provided
    assert not provided & set(env)
    for name in ("SECRET_KEY_BASE", "OTP_SECRET"):  # `rails secret`: 128 lower-case hex
        assert len(env[name]) == 128 and set(env[name]) <= HEX
    for name in AR_KEYS:  # db:encryption:init: 32 letters and digits
        assert len(env[name]) == 32 and set(env[name]) <= ALNUM
    assert len({env[name] for name in AR_KEYS}) == 3
    for name in ("DB_PASS", "POSTGRES_PASSWORD"):
        assert len(env[name]) == 32 and set(env[name]) <= ALNUM
    for spec in recipe.secrets:
        if spec.name in env:
            assert secrets.check_format(spec, env[spec.name]) is None


def test_vapid_pair_is_a_p256_key_in_webpush_encoding(generated):
    env = generated[3]
    private, public = env["VAPID_PRIVATE_KEY"], env["VAPID_PUBLIC_KEY"]
    assert len(private) == 44 and private.endswith("=")
    assert len(base64.urlsafe_b64decode(private)) == 32
    assert len(public) == 88 and public.startswith("B") and public.endswith("=")
    raw = base64.urlsafe_b64decode(public)
    assert len(raw) == 65 and raw[0] == 4
    assert set(private + public) <= set(string.ascii_letters + string.digits + "-_=")
    # the public key is the point of the private scalar, and a valid point on P-256
    assert raw == public_point_of(private)
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)


@pytest.mark.parametrize(("private", "start", "end"), KNOWN_PAIRS)
def test_vapid_public_key_matches_published_pairs(private, start, end):
    public = kinds.vapid_public_key(private)
    assert public.startswith(start) and public.endswith(end) and len(public) == 88


def test_vapid_key_without_leading_zero_bytes_is_accepted():
    # webpush writes the scalar without leading zero bytes: 31 bytes is still a key
    scalar = bytes([0]) + bytes(range(1, 32))
    short = base64.urlsafe_b64encode(scalar[1:]).decode()
    spec = Secret("VAPID_PRIVATE_KEY", "vapid", companion="VAPID_PUBLIC_KEY")
    assert secrets.check_format(spec, short) is None
    assert base64.urlsafe_b64decode(kinds.vapid_public_key(short)) == public_point_of(short)


@pytest.mark.parametrize(
    ("format_", "value", "problem"),
    [
        ("vapid", "not-a-key", "P-256"),
        ("vapid", base64.urlsafe_b64encode(b"\0" * 32).decode(), "P-256"),  # scalar 0
        ("vapid", base64.urlsafe_b64encode(b"\xff" * 32).decode(), "P-256"),  # beyond the order
        ("vapid", base64.b64encode(b"\xfb" * 31 + b"\x01").decode(), "P-256"),  # not URL-safe
        ("hex", "AB" * 64, "lower-case hex"),
        ("hex", "ab" * 63, "128 lower-case hex"),
        ("alnum", "a" * 31, "32 letters"),
        ("alnum", "a" * 31 + "-", "32 letters"),
    ],
)
def test_wrong_values_are_reported(format_, value, problem):
    spec = Secret("X", format_, bytes=64, length=32)
    assert problem in (secrets.check_format(spec, value) or "")


def test_existing_values_win_and_a_lost_public_key_is_derived(generated):
    recipe, folder, _, env = generated
    again = secrets.ensure(recipe, folder)
    assert again.created == () and read_env(folder / ".env") == env
    text = (folder / ".env").read_text()
    lines = [line for line in text.splitlines() if not line.startswith("VAPID_PUBLIC_KEY=")]
    (folder / ".env").write_text("\n".join(lines) + "\n")
    assert secrets.ensure(recipe, folder).created == ("VAPID_PUBLIC_KEY",)
    assert read_env(folder / ".env")["VAPID_PUBLIC_KEY"] == env["VAPID_PUBLIC_KEY"]


def test_a_public_key_without_its_private_key_is_refused(tmp_path):
    recipe = get_recipe("mastodon")
    (tmp_path / ".env").write_text("VAPID_PUBLIC_KEY=BAAA\n")
    with pytest.raises(SecretError, match="VAPID_PRIVATE_KEY is missing"):
        secrets.ensure(recipe, tmp_path)


@pytest.mark.parametrize("name", ["VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY", *AR_KEYS])
def test_keys_that_must_not_change_are_never_rotated_silently(generated, name):
    recipe, folder, _, env = generated
    with pytest.raises(SecretError, match="refusing to rotate"):
        secrets.rotate(recipe, folder, name)
    assert read_env(folder / ".env") == env


def test_rotating_the_vapid_pair_with_force_makes_a_matching_pair(generated):
    recipe, folder, _, env = generated
    secrets.rotate(recipe, folder, "VAPID_PRIVATE_KEY", force=True)
    new = read_env(folder / ".env")
    assert new["VAPID_PRIVATE_KEY"] != env["VAPID_PRIVATE_KEY"]
    assert base64.urlsafe_b64decode(new["VAPID_PUBLIC_KEY"]) == public_point_of(
        new["VAPID_PRIVATE_KEY"]
    )


def test_the_owner_password_is_kept_only_while_the_journal_has_its_step(tmp_path):
    from stackctl.errors import StackctlError
    from stackctl.settings import parse_site
    from stackctl.stack import Stack
    from stackctl.state import State
    from stackctl.steps import kept

    recipe = get_recipe("mastodon")
    site = parse_site({"stacks_root": str(tmp_path)})
    stack = Stack(
        recipe, site, {}, State(tmp_path / "docker-mastodon" / ".stackctl" / "state.json")
    )
    step = kept.keeping_step(recipe, "admin-password")
    assert step is not None and step.id == "owner"
    assert kept.keeping_step(recipe, "ott") is None
    kept.keep(stack, step, "0123abcd")
    path = kept.kept_dir(stack.dir) / "admin-password"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    stack.state.journal["owner"] = {"status": "done"}
    assert kept.read(stack, "admin-password") == "0123abcd"
    # a journal without the step: the copy is no longer trusted and goes
    stack.state.journal.clear()
    with pytest.raises(StackctlError, match="no admin-password is kept"):
        kept.read(stack, "admin-password")
    assert not path.exists()
    kept.keep(stack, step, "0123abcd")
    assert kept.forget(stack) == ["admin-password"] and kept.forget(stack) == []


def test_a_key_pair_is_set_whole(generated):
    recipe, folder, _, _ = generated
    with pytest.raises(SecretError, match="derived from VAPID_PRIVATE_KEY"):
        secrets.set_value(recipe, folder, "VAPID_PUBLIC_KEY", "B" * 88, force=True)
    private = secrets.generate(recipe.secret("VAPID_PRIVATE_KEY"))
    with pytest.raises(SecretError, match="refusing to replace VAPID_PRIVATE_KEY"):
        secrets.set_value(recipe, folder, "VAPID_PRIVATE_KEY", private)
    replaced = secrets.set_value(recipe, folder, "VAPID_PRIVATE_KEY", private, force=True)
    assert replaced is not None and replaced.kept is not None
    assert set(read_env(replaced.kept)) == {"VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY"}
    assert secrets.load(folder)["VAPID_PUBLIC_KEY"] == kinds.vapid_public_key(private)
