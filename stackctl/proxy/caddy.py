"""Caddy: one Caddyfile fragment per stack, imported from the main Caddyfile."""

from __future__ import annotations

from pathlib import Path

from stackctl.proxy.model import ProxySite
from stackctl.proxy.routes import Host, https_suffix, refuse_passthrough
from stackctl.proxy.templating import render_template


def render(hosts: tuple[Host, ...], site: ProxySite, stack: str) -> dict[str, str]:
    refuse_passthrough(hosts, stack, "which Caddy does not do without the layer4 plugin")
    text = render_template(
        "caddy.j2", hosts=hosts, site=site, stack=stack, https_suffix=https_suffix(site)
    )
    return {f"caddy/stackctl-{stack}.caddy": text}


def destination(name: str, stack: str) -> Path:
    return Path("/etc/caddy/sites") / name.split("/", 1)[1]


def needs(hosts: tuple[Host, ...], stack: str, site: ProxySite) -> list[str]:
    return [
        "in /etc/caddy/Caddyfile: import sites/*.caddy",
        "certificates come from the files named in each site's tls line (Caddy's own ACME is "
        "not used); the renewal hook reloads Caddy",
        "caddy validate --config /etc/caddy/Caddyfile && systemctl reload caddy",
    ]
