"""Compose validation of every rendered stack, and network checks against the real engine."""

from __future__ import annotations

import json
import shutil

import pytest

from stackctl import secrets
from stackctl.deploy import ensure_network
from stackctl.engine import open_engine
from stackctl.errors import NetworkError
from stackctl.files import RenderedFile, apply_plan, plan_files
from stackctl.names import stack_names
from stackctl.network import layout
from stackctl.recipe import all_recipes
from stackctl.render import StackInputs, render_stack
from stackctl.settings import parse_site, stack_settings

from .conftest import docker

pytestmark = pytest.mark.engine

VARIANTS = {
    "ente": [
        {},
        {
            "s3_hostname": "s3.example.lan",
            "web_apps": ["photos", "auth", "albums", "accounts", "cast"],
        },
        {"cli_image": "ente-cli:latest", "web_apps": []},
    ],
    "jellyfin": [
        {},
        {
            "libraries": [
                {"name": "Movies", "type": "movies", "path": "/data/video"},
                {"name": "Music", "type": "music", "paths": ["/data/mp3", "/data/flac"]},
            ],
            "base_url": "/jellyfin",
            "devices": ["/dev/dri/renderD128"],
            "group_add": [105],
        },
        {"network_mode": "host", "cpus": "", "memory": ""},
    ],
    "collabora": [
        {},
        {
            "nextcloud_urls": ["https://cloud.example.lan", "http://10.0.0.5:8080"],
            "post_allow": ["10\\.0\\.0\\.5"],
            "extra_options": ["net.proto=IPv4"],
        },
        {"allow_any_wopi_host": True},
    ],
    "mastodon": [
        {},
        {
            "elasticsearch": True,
            "local_domain": "example.lan",
            "alternate_domains": ["old.example.lan"],
            "s3": True,
            "s3_bucket": "toots",
            "trusted_proxies": ["192.168.1.10"],
        },
        {"version": "v4.3.17", "single_user_mode": True, "sso": False},
    ],
}


def cases():
    for name in all_recipes():
        for index, variant in enumerate(VARIANTS.get(name, [{}])):
            yield pytest.param(name, variant, id=f"{name}-{index}")


@pytest.mark.parametrize(("name", "variant"), list(cases()))
def test_every_rendered_stack_passes_compose_config(tmp_path, engine_ready, name, variant):
    site = parse_site(
        {
            "stacks_root": str(tmp_path),
            "data_root": str(tmp_path / "data"),
            "stacks": {name: variant},
        }
    )
    recipe = all_recipes()[name]
    settings = stack_settings(site, name, recipe.settings, list(all_recipes()))
    stack_dir = site.stack_dir(name)
    secrets.ensure(recipe, stack_dir)
    plan = layout(recipe.network.name, "10.214.0.0/24", recipe.network.fixed_ips, "test")
    files = render_stack(StackInputs(recipe, site, settings, plan, secrets.load(stack_dir), {}))
    apply_plan(stack_dir, plan_files(stack_dir, files, {}), {})
    open_engine().compose_config(stack_dir, name)  # raises EngineError with compose's own message
    done = docker("compose", "--project-directory", str(stack_dir), "config", "--format", "json")
    model = json.loads(done.stdout)
    assert model["name"] == name
    for service in model["services"].values():
        for port in service.get("ports", []):
            assert port.get("host_ip") == "127.0.0.1", (
                f"{name}: a port is published beyond loopback"
            )


def test_compose_config_reports_a_broken_file(tmp_path, engine_ready):
    from stackctl.errors import EngineError

    apply_plan(
        tmp_path,
        plan_files(
            tmp_path,
            [
                RenderedFile(
                    "docker-compose.yml", "services:\n  a:\n    image: x\n    ports: [nonsense:]\n"
                )
            ],
            {},
        ),
        {},
    )
    with pytest.raises(EngineError, match="docker compose config failed"):
        open_engine().compose_config(tmp_path, "broken")


def test_network_is_created_with_the_plan_and_found_again(engine_ready):
    name = "stackctl-test-net.lan"
    docker("network", "rm", name, check=False)
    plan = layout(name, "10.215.3.0/24", {"app": 7}, "test")
    engine = open_engine()
    try:
        assert ensure_network(engine, plan, stack_names("test")) is True
        found = engine.network(name)
        assert found is not None and found.subnets == ("10.215.3.0/24",)
        assert (found.gateway, found.ip_range) == ("10.215.3.1", "10.215.3.0/25")
        assert (
            ensure_network(engine, plan, stack_names("test")) is False
        )  # re-run: found, unchanged
        # a container gets the fixed address the plan promised
        docker(
            "run",
            "-d",
            "--name",
            "stackctl-test-fixed",
            "--network",
            name,
            "--ip",
            plan.ips["app"],
            "stackctl-test/debian:bookworm",
            "sleep",
            "30",
        )
        assert engine.network(name).containers["stackctl-test-fixed"] == "10.215.3.135"
        other = layout(name, "10.215.4.0/24", {}, "test")
        with pytest.raises(NetworkError, match="exists with subnet 10.215.3.0/24"):
            ensure_network(engine, other, stack_names("test"))
    finally:
        docker("rm", "-f", "stackctl-test-fixed", check=False)
        docker("network", "rm", name, check=False)


def test_overlap_with_an_existing_docker_network_is_refused(
    engine_ready, site_file, run_cli, tmp_path
):
    name = "stackctl-test-overlap"
    docker("network", "rm", name, check=False)
    docker("network", "create", "--subnet", "10.216.0.0/16", name)
    try:
        site_file(extra="[stacks.ente]\nsubnet = '10.216.5.0/24'\n")
        result = run_cli("deploy", "ente", "--dry-run")
        assert result.exit_code == 2
        assert f"overlaps 10.216.0.0/16 (Docker network {name})" in result.stderr
        assert not (tmp_path / "stacks").exists()
        # the pool skips it by itself
        site_file(pool="10.216.0.0/15")
        planned = run_cli("network", "plan", "ente", "--json")
        assert json.loads(planned.stdout)[0]["subnet"] == "10.217.0.0/24"
    finally:
        docker("network", "rm", name, check=False)
        shutil.rmtree(tmp_path / "stacks", ignore_errors=True)


def test_an_unreachable_image_is_a_clear_error_and_a_rerun_resumes(
    engine_ready, site_file, run_cli, tmp_path
):
    from tests.conftest import TEST_IMAGES

    images = {**TEST_IMAGES, "ghcr.io/ente/server": "registry.invalid/ente/server"}
    site_file(
        extra="[stacks.ente]\napi_port = 28181\nauth_port = 23323\ns3_port = 23201\n", images=images
    )
    try:
        result = run_cli("deploy", "ente")
        assert result.exit_code == 1
        assert result.stderr.startswith("error: pull registry.invalid/ente/server:latest")
        assert "Traceback" not in result.stderr
        # what was done stays done: files and secrets are there for the next run
        stack_dir = tmp_path / "stacks" / "docker-ente"
        assert (stack_dir / "docker-compose.yml").exists() and (stack_dir / ".env").exists()
        again = run_cli("deploy", "ente", "--dry-run")
        assert (
            again.exit_code == 0
            and "would pull registry.invalid/ente/server:latest" in again.stdout
        )
    finally:
        docker("network", "rm", "ente.lan", check=False)
