"""Ente's mail (seed Episode 9: a relay with SASL login and TLS), uploads and app links."""

from __future__ import annotations

import pytest
import yaml

from stackctl.errors import SecretError, SettingsError
from stackctl.network import layout
from stackctl.recipe import get_recipe
from stackctl.render import StackInputs, render_stack
from stackctl.secrets import new_values
from stackctl.settings import parse_site, stack_settings
from stackctl.stack import Stack, check_recipe_rules
from stackctl.state import State

MAIL = {
    "smtp_host": "smtp.darkstar.lan",
    "smtp_username": "verification",
    "smtp_from": "ente@darkstar.lan",
    "smtp_sender_name": "Ente at darkstar",
}


def files(stack_raw, tmp_path):
    site = parse_site({"stacks": {"ente": stack_raw}})
    recipe = get_recipe("ente")
    settings = stack_settings(site, "ente", recipe.settings, ["ente"])
    check_recipe_rules(Stack(recipe, site, settings, State(tmp_path)))
    net = layout("ente.lan", "172.21.0.0/24", recipe.network.fixed_ips, "pool")
    rendered = render_stack(StackInputs(recipe, site, settings, net, {}, {}))
    return {
        f.path: yaml.safe_load(f.content)
        for f in rendered
        if f.path.endswith(".yaml") or f.path.endswith(".yml")
    }


def test_mail_renders_every_key_museum_reads(tmp_path):
    out = files(MAIL, tmp_path)
    assert out["museum.yaml"]["smtp"] == {
        "host": "smtp.darkstar.lan",
        "port": 587,
        "username": "verification",
        "encryption": "tls",
        "email": "ente@darkstar.lan",
        "sender-name": "Ente at darkstar",
    }
    # the password reaches museum as ENTE_SMTP_PASSWORD (smtp.password), never in museum.yaml
    env = out["docker-compose.yml"]["services"]["museum"]["environment"]
    assert env["ENTE_SMTP_PASSWORD"].startswith("${ENTE_SMTP_PASSWORD:?")


def test_mail_without_a_sender_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="smtp_from"):
        files({"smtp_host": "smtp.darkstar.lan"}, tmp_path)


def test_no_mail_no_smtp_and_no_password_reference(tmp_path):
    out = files({}, tmp_path)
    assert "smtp" not in out["museum.yaml"]
    assert (
        "ENTE_SMTP_PASSWORD" not in out["docker-compose.yml"]["services"]["museum"]["environment"]
    )


def test_smtp_password_comes_from_the_site_password_file(tmp_path):
    secret = tmp_path / "relay-password"
    secret.write_text("s3cret pass\n")
    secret.chmod(0o600)
    site = parse_site({"mail": {"password_file": str(secret)}})
    assert new_values(get_recipe("ente"), {}, site)["ENTE_SMTP_PASSWORD"] == "s3cret pass"
    # an existing value wins over the file
    assert "ENTE_SMTP_PASSWORD" not in new_values(
        get_recipe("ente"), {"ENTE_SMTP_PASSWORD": "x"}, site
    )
    secret.chmod(0o644)
    with pytest.raises(SecretError, match="0644"):
        new_values(get_recipe("ente"), {}, site)


def test_photos_with_s3_only_at_localhost_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="s3_hostname"):
        files({"web_apps": ["photos", "auth"]}, tmp_path)
    out = files({"web_apps": ["photos"], "s3_hostname": "s3.example.lan"}, tmp_path)
    assert out["museum.yaml"]["s3"]["b2-eu-cen"]["endpoint"] == "s3.example.lan"


def test_app_links_and_webauthn_only_for_served_apps(tmp_path):
    out = files({}, tmp_path)  # auth only
    assert "apps" not in out["museum.yaml"] and "webauthn" not in out["museum.yaml"]
    out = files(
        {"web_apps": ["albums", "accounts", "share", "embed", "paste", "memories"]}, tmp_path
    )
    museum = out["museum.yaml"]
    assert museum["apps"] == {
        "public-albums": "https://albums.example.lan",
        "accounts": "https://accounts.example.lan",
        "public-locker": "https://share.example.lan",
        "embed-albums": "https://embed.example.lan",
        "public-paste": "https://paste.example.lan",
        "public-memories": "https://memories.example.lan",
    }
    assert museum["webauthn"]["rpid"] == "accounts.example.lan"
    ports = out["docker-compose.yml"]["services"]["web"]["ports"]
    assert {p.rsplit(":", 1)[1].split()[0] for p in ports} == {
        "3002",
        "3001",
        "3005",
        "3006",
        "3008",
        "3010",
    }


def test_mastodon_reads_the_password_file_too(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("relay-pw")
    secret.chmod(0o600)
    site = parse_site({"mail": {"password_file": str(secret), "username": "m"}})
    assert new_values(get_recipe("mastodon"), {}, site)["SMTP_PASSWORD"] == "relay-pw"
