"""Traefik v3: one file-provider YAML per stack (routers, middlewares, services, certificates)."""

from __future__ import annotations

from pathlib import Path

from stackctl.proxy.model import ProxySite
from stackctl.proxy.routes import Host, refuse_static
from stackctl.proxy.templating import render_template


def render(hosts: tuple[Host, ...], site: ProxySite, stack: str) -> dict[str, str]:
    refuse_static(hosts, stack, "Traefik")
    timeouts = sorted(
        {r.timeout for h in hosts for r in h.routes if r.timeout and not r.loc.websocket}
    )
    # The buffering middleware holds bodies in memory or on disk: used only for limits a recipe
    # set (route.max_body_explicit), not for the site-wide default.
    text = render_template(
        "traefik.yml.j2",
        hosts=hosts,
        site=site,
        stack=stack,
        timeouts=timeouts,
        passthrough=[h for h in hosts if h.vh.tls == "passthrough"],
        certificates=[h for h in hosts if h.vh.tls == "terminate"],
    )
    return {f"traefik/stackctl-{stack}.yml": text}


def destination(name: str, stack: str) -> Path:
    return Path("/etc/traefik/dynamic") / name.split("/", 1)[1]


def needs(hosts: tuple[Host, ...], stack: str, site: ProxySite) -> list[str]:
    out = [
        "static configuration: providers.file.directory = /etc/traefik/dynamic (watch: true)",
        f'entry points "web" on :{site.http_port} and "websecure" on :{site.https_port}',
        "Traefik v3 (PathRegexp rules)",
    ]
    if any(r.loc.keep_encoded_slashes for h in hosts for r in h.routes):
        out.append(
            "entryPoints.websecure.http.encodedCharacters.allowEncodedSlash: true "
            "(Traefik 3.6+ rejects %2F in paths otherwise)"
        )
    if any(r.loc.websocket for h in hosts for r in h.routes):
        out.append(
            "long-lived websockets: entryPoints.websecure.transport.respondingTimeouts.readTimeout: 0"
        )
    if site.acme_upstream is None:
        out.append(
            "Traefik cannot serve the ACME webroot: ACME challenges get 503 until an ACME "
            "helper address is configured"
        )
    return out
