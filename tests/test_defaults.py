"""Defaults never act on stacks the user did not ask for; render leaves nothing half-made."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from stackctl.commands.options import chosen_stacks
from stackctl.engine_fake import FakeEngine
from stackctl.envfile import read_env
from stackctl.errors import StackctlError
from stackctl.names import stack_names
from stackctl.settings import parse_site
from tests.conftest import RUN_PREFIX

NO_ENGINE = "unix:///nonexistent/docker.sock"

NETWORK = stack_names("ente", RUN_PREFIX).network  # site_file sets the run's name prefix


def stack_folders(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "stacks").glob("docker-*"))


def saved_network(root: Path, stack: str) -> dict:
    state = root / "stacks" / f"docker-{stack}" / ".stackctl" / "state.json"
    return json.loads(state.read_text()).get("network", {}) if state.exists() else {}


def test_bare_secrets_gen_with_no_stack_enabled_creates_nothing(site_file, run_cli, tmp_path):
    site_file()
    result = run_cli("secrets", "gen")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no stack is enabled in ")
    assert "enabled = true" in result.stderr  # the hint says how
    assert not (tmp_path / "stacks").exists()


def test_bare_secrets_gen_acts_on_the_enabled_stacks_only(site_file, run_cli, tmp_path):
    site_file("[stacks.jellyfin]\nenabled = true\n[stacks.ente]\nenabled = false\n")
    result = run_cli("secrets", "gen")
    assert result.exit_code == 0, result.stderr
    assert stack_folders(tmp_path) == ["docker-jellyfin"]


def test_deploy_all_with_no_stack_enabled_deploys_nothing(
    site_file, run_cli, tmp_path, monkeypatch
):
    # a stack folder alone (say, left by a mistaken run) is no reason to deploy it
    site_file()
    assert run_cli("secrets", "gen", "ente").exit_code == 0
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)  # should it try anyway, it reaches no engine
    result = run_cli("deploy", "--all")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no stack is enabled in ")
    assert "nothing to deploy" in result.stderr


def test_all_means_the_enabled_stacks_not_the_folders_or_tables(tmp_path):
    (tmp_path / "stacks" / "docker-mastodon").mkdir(parents=True)
    site = parse_site(
        {
            "stacks_root": str(tmp_path / "stacks"),
            "stacks": {
                "ente": {"enabled": True},
                "jellyfin": {"server_name": "Home"},
                "collabora": {"enabled": False},
            },
        }
    )
    assert chosen_stacks(site, None, all_stacks=True) == ["ente"]
    assert chosen_stacks(site, ["mastodon", "mastodon"], all_stacks=False) == ["mastodon"]
    with pytest.raises(StackctlError, match="name a stack"):
        chosen_stacks(site, None, all_stacks=False)


def test_enabled_must_be_true_or_false(site_file, run_cli):
    site_file('[stacks.ente]\nenabled = "yes"\n')
    result = run_cli("secrets", "gen")
    assert result.exit_code == 2
    assert "stacks.ente.enabled" in result.stderr and "true or false" in result.stderr


def test_render_before_secrets_gen_creates_the_secrets(site_file, run_cli, tmp_path):
    site_file()
    result = run_cli("render", "mastodon")
    assert result.exit_code == 0, result.stderr
    folder = tmp_path / "stacks" / "docker-mastodon"
    secrets = read_env(folder / ".env")
    assert secrets["SECRET_KEY_BASE"] and secrets["DB_PASS"]
    production = read_env(folder / ".env.production")
    empty = [k for k in ("SECRET_KEY_BASE", "OTP_SECRET", "DB_PASS") if not production.get(k)]
    assert empty == []
    assert production["DB_PASS"] == secrets["DB_PASS"]
    assert "created" in result.stdout


def test_render_makes_the_stack_folder_private(site_file, run_cli, tmp_path):
    site_file()
    assert run_cli("render", "ente").exit_code == 0
    folder = tmp_path / "stacks" / "docker-ente"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / ".stackctl").stat().st_mode) == 0o700


def test_render_without_an_engine_saves_no_subnet(site_file, run_cli, tmp_path, monkeypatch):
    site_file()
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    result = run_cli("render", "ente")
    assert result.exit_code == 0, result.stderr
    assert "not saved" in result.stderr
    assert saved_network(tmp_path, "ente") == {}
    # the files were still written with the subnet planned for this run
    assert (tmp_path / "stacks" / "docker-ente" / "docker-compose.yml").exists()


@pytest.fixture
def allocated(site_file, tmp_path, monkeypatch):
    """An ente stack with a saved subnet; `network release` talks to a fake engine."""
    site_file()
    state = tmp_path / "stacks" / "docker-ente" / ".stackctl" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"network": {"name": "ente.lan", "subnet": "10.213.4.0/24"}}))
    engine = FakeEngine()
    monkeypatch.setattr("stackctl.engine.open_engine", lambda: engine)
    return engine


def test_network_release_forgets_the_subnet_of_a_stack_without_network(
    allocated, run_cli, tmp_path
):
    result = run_cli("network", "release", "ente")
    assert result.exit_code == 0, result.stderr
    assert "released subnet 10.213.4.0/24 of ente" in result.stdout
    assert saved_network(tmp_path, "ente") == {}
    assert ("network", NETWORK) in allocated.calls  # it did ask the engine


def test_network_release_refuses_while_the_network_exists(allocated, run_cli, tmp_path):
    allocated.create_network(NETWORK, "10.213.4.0/24", "10.213.4.1", "10.213.4.0/25", {})
    result = run_cli("network", "release", "ente")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: Docker network {NETWORK} of ente exists")
    assert saved_network(tmp_path, "ente")["subnet"] == "10.213.4.0/24"


def test_network_release_without_an_engine_keeps_the_subnet(
    site_file, run_cli, tmp_path, monkeypatch
):
    site_file()
    state = tmp_path / "stacks" / "docker-ente" / ".stackctl" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"network": {"name": "ente.lan", "subnet": "10.213.4.0/24"}}))
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    result = run_cli("network", "release", "ente")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert saved_network(tmp_path, "ente")["subnet"] == "10.213.4.0/24"
