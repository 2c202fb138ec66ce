"""Compose validation of every rendered stack, and network checks against the real engine."""

from __future__ import annotations

import ipaddress
import itertools
import json
import shutil

import pytest

from stackctl import secrets
from stackctl.deploy import ensure_network
from stackctl.engine import open_engine
from stackctl.errors import NetworkError
from stackctl.files import RenderedFile, apply_plan, plan_files
from stackctl.network import layout
from stackctl.recipe import all_recipes
from stackctl.render import StackInputs, render_stack
from stackctl.settings import parse_site, stack_settings

from .conftest import RUN_LABEL, docker, free_port, names, run_pool, teardown_stack

pytestmark = pytest.mark.engine

VARIANTS = {
    "etherpad": [
        {},
        {"database": "mariadb", "api_auth": "apikey", "whiteboard": False},
        {"layout": "hosts", "image": "local/etherpad", "version": "3.3.1-plugins"},
    ],
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
    plan = layout(site.names(name).network, "10.214.0.0/24", recipe.network.fixed_ips, "test")
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
    stack = names("nettest")
    name, fixed = stack.network, stack.container("fixed")
    net = ipaddress.ip_network(run_pool(1))  # this run's own: no other run or user has it
    subnet, second = (str(s) for s in itertools.islice(net.subnets(new_prefix=24), 3, 5))
    plan = layout(name, subnet, {"app": 7}, "test")
    engine = open_engine()
    try:
        assert ensure_network(engine, plan, stack) is True
        found = engine.network(name)
        assert found is not None and found.subnets == (subnet,)
        base = subnet.rsplit(".", 1)[0]
        assert (found.gateway, found.ip_range) == (f"{base}.1", f"{base}.0/25")
        assert ensure_network(engine, plan, stack) is False  # re-run: found, unchanged
        labels = json.loads(docker("network", "inspect", name).stdout)[0]["Labels"]
        assert labels == {"org.stackctl.stack": "nettest", "org.stackctl.prefix": stack.prefix}
        # a container gets the fixed address the plan promised
        docker(
            "run", "-d", "--name", fixed, "--label", RUN_LABEL, "--network", name,
            "--ip", plan.ips["app"], "stackctl-test/debian:bookworm", "sleep", "30",
        )  # fmt: skip
        assert engine.network(name).containers[fixed] == f"{base}.135"
        other = layout(name, second, {}, "test")
        with pytest.raises(NetworkError, match=f"exists with subnet {subnet}"):
            ensure_network(engine, other, stack)
    finally:
        docker("rm", "-f", fixed, check=False)
        docker("network", "rm", name, check=False)


def test_overlap_with_an_existing_docker_network_is_refused(
    engine_ready, site_file, run_cli, tmp_path
):
    name = names("overlap").network
    taken = ipaddress.ip_network(run_pool(2))  # this run's own /16
    inside = list(taken.subnets(new_prefix=24))[5]
    docker("network", "create", "--label", RUN_LABEL, "--subnet", str(taken), name)
    try:
        site_file(extra=f"[stacks.ente]\nsubnet = '{inside}'\n")
        result = run_cli("deploy", "ente", "--dry-run")
        assert result.exit_code == 2
        assert f"overlaps {taken} (Docker network {name})" in result.stderr
        assert not (tmp_path / "stacks").exists()
        # the pool skips it by itself
        wider = taken.supernet(new_prefix=15)
        site_file(pool=str(wider))
        planned = run_cli("network", "plan", "ente", "--json")
        subnet = ipaddress.ip_network(json.loads(planned.stdout)[0]["subnet"])
        assert subnet.subnet_of(wider) and not subnet.overlaps(taken)
    finally:
        docker("network", "rm", name, check=False)
        shutil.rmtree(tmp_path / "stacks", ignore_errors=True)


def test_an_unreachable_image_is_a_clear_error_and_a_rerun_resumes(
    engine_ready, site_file, run_cli, tmp_path
):
    from tests.conftest import TEST_IMAGES

    images = {**TEST_IMAGES, "ghcr.io/ente/server": "registry.invalid/ente/server"}
    ports = {"api_port": free_port(), "auth_port": free_port(), "s3_port": free_port()}
    site_file(
        extra="[stacks.ente]\n" + "".join(f"{k} = {v}\n" for k, v in ports.items()), images=images
    )
    try:
        result = run_cli("deploy", "ente")
        assert result.exit_code == 1
        assert result.stderr.startswith(
            "error: pull registry.invalid/ente/server:0472c929b6070e61fecaf2013d47efce2dcda462"
        )
        assert "Traceback" not in result.stderr
        # what was done stays done: files and secrets are there for the next run
        stack_dir = tmp_path / "stacks" / "docker-ente"
        assert (stack_dir / "docker-compose.yml").exists() and (stack_dir / ".env").exists()
        again = run_cli("deploy", "ente", "--dry-run")
        assert (
            again.exit_code == 0
            and "would pull registry.invalid/ente/server:0472c929b6070e61fecaf2013d47efce2dcda462"
            in again.stdout
        )
    finally:
        teardown_stack(tmp_path / "stacks" / "docker-ente", "ente")
