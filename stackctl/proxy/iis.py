"""IIS: a web.config per site (URL Rewrite inbound/outbound rules, ARR as the proxy).

IIS cannot run here; the files are written under the stack folder for copying to the
Windows host, and the tests check them structurally.
"""

from __future__ import annotations

from pathlib import Path

from stackctl.errors import RecipeError
from stackctl.proxy.model import ProxySite
from stackctl.proxy.routes import Host, https_suffix, refuse_passthrough
from stackctl.proxy.templating import render_template

_REDIRECT_TYPES = {301: "Permanent", 302: "Found", 303: "SeeOther", 307: "Temporary"}
_UINT_MAX = 4294967295  # IIS's largest maxAllowedContentLength: "no limit"


def server_variable(prefix: str, header: str) -> str:
    """X-Real-IP -> HTTP_X_REAL_IP (request) / RESPONSE_X_Real_IP (response)."""
    name = header.replace("-", "_")
    return prefix + (name.upper() if prefix == "HTTP_" else name)


def _check(host: Host, stack: str) -> None:
    where = f"stack {stack}, virtual host {host.vh.name}"
    refuse_passthrough((host,), stack, "which IIS cannot do")
    for route in host.routes:
        if route.kind == "static" and route.loc.upstream is None:
            raise RecipeError(
                f"{where}: location {route.loc.path} serves files from disk",
                "give it an upstream; IIS proxies it like any other path",
            )
        if route.kind == "redirect" and route.loc.redirect_code not in _REDIRECT_TYPES:
            raise RecipeError(
                f"{where}: redirect code {route.loc.redirect_code} has no IIS redirectType",
                "301, 302, 303 or 307",
            )


def render(hosts: tuple[Host, ...], site: ProxySite, stack: str) -> dict[str, str]:
    files = {}
    for host in hosts:
        _check(host, stack)
        if host.vh.tls == "none":
            schemes = ["http"]
        elif host.vh.http_redirect:
            schemes = ["https"]
        else:
            schemes = ["https", "http"]
        limits = [r.max_body_bytes for r in host.routes if r.kind != "redirect"]
        biggest = _UINT_MAX if not limits or 0 in limits else min(max(limits), _UINT_MAX)
        files[f"iis/{host.vh.hostname}/web.config"] = render_template(
            "iis.web.config.j2",
            host=host,
            site=site,
            stack=stack,
            schemes=schemes,
            max_body=biggest,
            https_suffix=https_suffix(site),
            server_variable=server_variable,
            redirect_type=_REDIRECT_TYPES.get,
            route_kind=lambda r: "websocket" if r.loc.websocket else r.kind,
        )
    return files


def destination(name: str, stack: str) -> Path:
    from stackctl.proxy import IIS_FOLDER

    return IIS_FOLDER / name.split("/", 1)[1]


def needs(hosts: tuple[Host, ...], stack: str, site: ProxySite) -> list[str]:
    variables = {
        "HTTP_X_FORWARDED_PROTO",
        "HTTP_X_FORWARDED_PORT",
        "HTTP_X_FORWARDED_FOR",
        "HTTP_X_REAL_IP",
        "HTTP_X_FORWARDED_HOST",
    }
    for host in hosts:
        for route in host.routes:
            if route.loc.websocket:
                variables.add("HTTP_SEC_WEBSOCKET_EXTENSIONS")
            variables.update(server_variable("HTTP_", n) for n, _ in route.loc.request_headers)
    out = [
        "IIS features: URL Rewrite 2.1, Application Request Routing 3 (Server Proxy Settings: "
        "Enable proxy, Preserve host header), Install-WindowsFeature Web-WebSockets",
        "one IIS site per host name with an https binding (Require SNI) and its certificate; "
        "copy each web.config into that site's folder",
        "the site folder holds .well-known/acme-challenge/ for the ACME client (e.g. WACS)",
    ]
    out += [
        "appcmd set config -section:system.webServer/rewrite/allowedServerVariables "
        f"/+\"[name='{name}']\" /commit:apphost"
        for name in sorted(variables)
    ]
    out.append("upstream timeouts are server-wide in IIS: ARR Server Proxy Settings > Time-out")
    return out
