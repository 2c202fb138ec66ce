"""HAProxy: shared front ends (SNI split, TLS, Host dispatch) plus one backend per host name."""

from __future__ import annotations

from pathlib import Path

from stackctl.proxy.model import ProxySite
from stackctl.proxy.routes import Host, https_suffix, refuse_static
from stackctl.proxy.templating import render_template

COMMON = "haproxy/00-stackctl-common.cfg"  # sorts first: it defines the `stackctl` defaults


def render(hosts: tuple[Host, ...], site: ProxySite, stack: str) -> dict[str, str]:
    refuse_static(hosts, stack, "HAProxy")
    context = dict(hosts=hosts, site=site, stack=stack, https_suffix=https_suffix(site))
    return {
        COMMON: render_template("haproxy-common.cfg.j2", **context),
        f"haproxy/stackctl-{stack}.cfg": render_template("haproxy.cfg.j2", **context),
    }


def destination(name: str, stack: str) -> Path:
    return Path("/etc/haproxy/conf.d") / name.split("/", 1)[1]


def needs(hosts: tuple[Host, ...], stack: str, site: ProxySite) -> list[str]:
    out = [
        'load the folder after the main file: CONFIG="/etc/haproxy/haproxy.cfg '
        '-f /etc/haproxy/conf.d" in /etc/default/haproxy (or a systemd drop-in with both -f)',
        f"no other frontend may bind ports {site.http_port} or {site.https_port}",
    ]
    for host in hosts:
        if host.vh.tls == "terminate":
            cert, key = host.cert, host.key
            out.append(
                f"renewal hook: cat {cert} {key} > {site.haproxy_cert_dir}/{host.vh.hostname}.pem"
            )
    if site.acme_upstream is None:
        out.append(
            "HAProxy cannot serve the ACME webroot: set an ACME helper address (e.g. certbot "
            "--standalone --http-01-port 8402 behind 127.0.0.1:8402); until then challenges get 404"
        )
    out.append(
        "haproxy -c -f /etc/haproxy/haproxy.cfg -f /etc/haproxy/conf.d && systemctl reload haproxy"
    )
    return out
