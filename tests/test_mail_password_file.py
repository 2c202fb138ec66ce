"""[mail] password_file is read (seed: the relay wants SASL login): it becomes SMTP_PASSWORD
in .env and .env.production; a password file others can read is refused."""

from __future__ import annotations

import json


def test_password_file_becomes_smtp_password(run_cli, site_file, tmp_path):
    secret = tmp_path / "relay-password"
    secret.write_text("relay pass\n")
    secret.chmod(0o600)
    site_file(
        '[mail]\nrelay_host = "smtp.darkstar.lan"\nusername = "mastodon"\n'
        f'password_file = "{secret}"\n'
    )
    (made,) = json.loads(run_cli("secrets", "gen", "mastodon", "--json").stdout)
    assert "SMTP_PASSWORD" in made["created"]
    assert run_cli("render", "mastodon").exit_code == 0
    env = (tmp_path / "stacks/docker-mastodon/.env.production").read_text()
    assert "SMTP_LOGIN=mastodon" in env
    assert any(
        line.startswith("SMTP_PASSWORD=") and "relay pass" in line for line in env.splitlines()
    )


def test_a_password_file_others_can_read_is_refused(run_cli, site_file, tmp_path):
    secret = tmp_path / "relay-password"
    secret.write_text("relay pass\n")
    secret.chmod(0o644)
    site_file(f'[mail]\nrelay_host = "smtp.darkstar.lan"\npassword_file = "{secret}"\n')
    result = run_cli("secrets", "gen", "mastodon")
    assert result.exit_code != 0
    assert "0644" in result.stderr and f"chmod 600 {secret}" in result.stderr
    assert "relay pass" not in result.stderr + result.stdout
