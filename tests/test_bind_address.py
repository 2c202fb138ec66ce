"""Where a stack's ports are published and where the proxy config sends requests.

Seed 000 runs Mastodon on a VM behind IIS on another Windows machine: the ports must be
published on the VM's LAN address and every proxy dialect must point at that address."""

from __future__ import annotations

import pytest
import yaml

from stackctl import proxy
from stackctl.errors import SettingsError
from stackctl.network import layout
from stackctl.recipe import all_recipes
from stackctl.render import StackInputs, render_stack, stack_vhosts
from stackctl.settings import parse_site, stack_settings
from tests.proxy import proxy_samples as samples

LAN = "192.168.10.20"
PASSTHROUGH = {"nginx-stream", "haproxy", "traefik"}


def settings_for(name: str, table: dict):
    site = parse_site({"stacks": {name: table}})
    recipe = all_recipes()[name]
    return site, recipe, stack_settings(site, name, recipe.settings, list(all_recipes()))


def published(name: str, table: dict) -> list[str]:
    site, recipe, settings = settings_for(name, table)
    net = layout(site.names(name).network, "172.21.0.0/24", recipe.network.fixed_ips, "pool")
    secrets = {n: "x" for s in recipe.secrets for n in (s.name, s.companion) if n}
    files = {
        f.path: f.content
        for f in render_stack(StackInputs(recipe, site, settings, net, secrets, {}))
    }
    compose = yaml.safe_load(files["docker-compose.yml"])
    return [str(p) for s in compose["services"].values() for p in s.get("ports", [])]


@pytest.mark.parametrize("name", sorted(all_recipes()))
def test_ports_are_published_on_loopback_unless_asked(name):
    ports = published(name, {})
    assert ports, f"{name} publishes no port"
    assert all(p.startswith("127.0.0.1:") for p in ports)


@pytest.mark.parametrize("name", sorted(all_recipes()))
def test_bind_address_publishes_every_proxied_port_there(name):
    ports = published(name, {"bind_address": LAN})
    assert any(p.startswith(f"{LAN}:") for p in ports)
    # Redis holds no password: it stays on loopback whatever bind_address says
    assert all(p.startswith((f"{LAN}:", "127.0.0.1:6380")) for p in ports), ports


@pytest.mark.parametrize("dialect", proxy.DIALECTS)
@pytest.mark.parametrize("name", sorted(all_recipes()))
def test_every_dialect_points_at_the_upstream_host(name, dialect):
    site, recipe, settings = settings_for(
        name, {"bind_address": "0.0.0.0", "upstream_host": "mastodon-vm.lan"}
    )
    hosts = stack_vhosts(recipe, site, settings)
    if dialect not in PASSTHROUGH and any(h.tls == "passthrough" for h in hosts):
        pytest.skip(f"{dialect} cannot pass TLS through")
    upstreams = {loc.upstream for h in hosts for loc in h.locations if loc.upstream}
    assert upstreams and all(u.startswith("mastodon-vm.lan:") for u in upstreams)
    text = "\n".join(
        proxy.render(hosts, dialect, samples.site(acme_upstream="127.0.0.1:8402"), name).values()
    )
    assert "mastodon-vm.lan:" in text
    assert "127.0.0.1:" + str(next(iter(upstreams)).split(":")[1]) not in text


def test_mastodon_behind_iis_on_another_machine_rewrites_to_the_lan_address():
    site, recipe, settings = settings_for("mastodon", {"bind_address": LAN})
    assert settings["upstream_host"] == LAN  # the proxy reaches the ports where they are published
    files = proxy.render(stack_vhosts(recipe, site, settings), "iis", samples.site(), "mastodon")
    text = "\n".join(files.values())
    assert f'url="http://{LAN}:{settings["web_port"]}' in text
    assert f'url="http://{LAN}:{settings["streaming_port"]}' in text


def test_all_interfaces_means_the_proxy_uses_loopback_unless_told():
    _, _, settings = settings_for("ente", {"bind_address": "0.0.0.0"})
    assert settings["upstream_host"] == "127.0.0.1"


def test_bind_address_must_be_an_address():
    with pytest.raises(SettingsError, match="bind_address"):
        settings_for("ente", {"bind_address": "my-lan"})


def test_a_lan_bind_address_is_warned_about(tmp_path):
    from stackctl.stack import Stack, stack_warnings
    from stackctl.state import State

    site, recipe, settings = settings_for("jellyfin", {"bind_address": LAN})
    warnings = stack_warnings(Stack(recipe, site, settings, State(tmp_path)))
    assert any("bind_address" in w and "other machines" in w for w in warnings)
    site, recipe, settings = settings_for("jellyfin", {})
    assert not any(
        "bind_address" in w for w in stack_warnings(Stack(recipe, site, settings, State(tmp_path)))
    )


def test_mastodon_behind_a_remote_proxy_is_told_to_trust_it(tmp_path):
    from stackctl.stack import Stack, stack_warnings
    from stackctl.state import State

    site, recipe, settings = settings_for("mastodon", {"bind_address": LAN})
    warned = stack_warnings(Stack(recipe, site, settings, State(tmp_path)))
    assert any("trusted_proxies" in w for w in warned)
    site, recipe, settings = settings_for(
        "mastodon", {"bind_address": LAN, "trusted_proxies": ["192.168.10.5/32"]}
    )
    warned = stack_warnings(Stack(recipe, site, settings, State(tmp_path)))
    assert not any("trusted_proxies" in w for w in warned)
