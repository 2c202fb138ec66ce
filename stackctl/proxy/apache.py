"""Apache httpd: one sites-available file per stack with a :80 and a :443 virtual host each."""

from __future__ import annotations

from pathlib import Path

from stackctl.proxy.model import ProxySite
from stackctl.proxy.routes import ACME_START, Host, https_suffix, refuse_passthrough
from stackctl.proxy.templating import render_template

MODULES = (
    "proxy",
    "proxy_http",
    "proxy_wstunnel",
    "headers",
    "ssl",
    "remoteip",
    "rewrite",
    "alias",
)


def render(hosts: tuple[Host, ...], site: ProxySite, stack: str) -> dict[str, str]:
    refuse_passthrough(hosts, stack, "which Apache cannot do")
    text = render_template(
        "apache.conf.j2",
        hosts=hosts,
        site=site,
        stack=stack,
        addr=site.listen_address or "*",
        acme_start=ACME_START,
        https_suffix=https_suffix(site),
    )
    return {f"apache/stackctl-{stack}.conf": text}


def destination(name: str, stack: str) -> Path:
    return Path("/etc/apache2/sites-available") / name.split("/", 1)[1]


def needs(hosts: tuple[Host, ...], stack: str, site: ProxySite) -> list[str]:
    out = [f"a2enmod {' '.join(MODULES)}", f"a2ensite stackctl-{stack}"]
    ports = [p for p in (site.http_port, site.https_port) if p not in (80, 443)]
    if ports:
        out.append("add to /etc/apache2/ports.conf: " + "; ".join(f"Listen {p}" for p in ports))
    if any(r.loc.websocket for h in hosts for r in h.routes):
        out.append("websockets use ProxyPass upgrade=websocket (Apache 2.4.47 or later)")
    out.append("apache2ctl configtest && apache2ctl -k graceful")
    return out
