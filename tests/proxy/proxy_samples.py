"""Fixture virtual hosts that use every feature of the route model.

Shaped after the apps stackctl deploys: Mastodon (static /system, streaming websocket, LOCAL_DOMAIN
redirects), Collabora (websocket patterns, encoded slashes), Jellyfin (/socket), Etherpad under a
prefix, Ente's API (a stray CORS header removed), an SNI passthrough host and a plain-HTTP host.
"""

from __future__ import annotations

from collections.abc import Callable

from stackctl.proxy.model import Location as L
from stackctl.proxy.model import ProxySite, VirtualHost

UPSTREAMS = {
    "web": "127.0.0.1:3000",
    "streaming": "127.0.0.1:4000",
    "cool": "127.0.0.1:9980",
    "jellyfin": "127.0.0.1:8096",
    "pad": "127.0.0.1:9001",
    "museum": "127.0.0.1:8080",
    "lan": "127.0.0.1:8081",
    "pbx": "127.0.0.1:8443",
    "pbx-acme": "127.0.0.1:8088",
}
DOMAIN = "example.test"
CSP = "default-src 'none'; form-action 'none'"
STRAY = ("Access-Control-Max-Age", "X-Powered-By")


def vhosts(
    up: Callable[[str], str] = UPSTREAMS.__getitem__,
    static_root: str = "/srv/mastodon/public",
    domain: str = DOMAIN,
) -> list[VirtualHost]:
    web = f"https://social.{domain}"
    return [
        VirtualHost(
            name="web",
            hostname=f"social.{domain}",
            aliases=(f"www.social.{domain}",),
            locations=(
                L(
                    "/system/",
                    static_root=static_root,
                    upstream=up("web"),
                    response_headers=(("X-Content-Type-Options", "nosniff"), ("X-Csp", CSP)),
                ),
                L("/api/v1/streaming", upstream=up("streaming"), websocket=True),
                L("/", upstream=up("web"), max_body="20m", timeout=90),
            ),
        ),
        VirtualHost(
            name="local",
            hostname=domain,
            locations=tuple(
                L(
                    path,
                    redirect=web,
                    response_headers=(("Access-Control-Allow-Origin", "*"),),
                )
                for path in (
                    "/.well-known/webfinger",
                    "/.well-known/host-meta",
                    "/.well-known/nodeinfo",
                )
            ),
        ),
        VirtualHost(
            name="office",
            hostname=f"office.{domain}",
            locations=(
                L(
                    "^/cool/(.*)/ws$",
                    pattern=True,
                    upstream=up("cool"),
                    websocket=True,
                    keep_encoded_slashes=True,
                    timeout=36000,
                ),
                L(
                    "/cool/ws",
                    upstream=up("cool"),
                    websocket=True,
                    keep_encoded_slashes=True,
                    timeout=36000,
                ),
                L("/cool/adminws", upstream=up("cool"), websocket=True, timeout=36000),
                L("/cool/", upstream=up("cool"), keep_encoded_slashes=True),
                L("/browser", upstream=up("cool")),
                L("/hosting/discovery", upstream=up("cool")),
                L("/hosting/capabilities", upstream=up("cool")),
            ),
        ),
        VirtualHost(
            name="media",
            hostname=f"media.{domain}",
            locations=(
                L("/socket", upstream=up("jellyfin"), websocket=True),
                L(
                    "/",
                    upstream=up("jellyfin"),
                    request_headers=(("X-Forwarded-Protocol", "https"),),
                ),
            ),
        ),
        VirtualHost(
            name="pad",
            hostname=f"meet.{domain}",
            locations=(
                L(
                    "/pad/",
                    upstream=up("pad"),
                    websocket=True,
                    strip_prefix=True,
                    request_headers=(("X-Proxy-Path", "/pad"),),
                    timeout=120,
                ),
            ),
            hsts=False,
        ),
        VirtualHost(
            name="api",
            hostname=f"ente-api.{domain}",
            locations=(L("/", upstream=up("museum"), max_body="4m", unset_response_headers=STRAY),),
        ),
        VirtualHost(
            name="pbx",
            hostname=f"pbx.{domain}",
            tls="passthrough",
            passthrough_upstream=up("pbx"),
            acme_upstream=up("pbx-acme"),
        ),
        VirtualHost(
            name="lan",
            hostname=f"lan.{domain}",
            tls="none",
            locations=(L("/", upstream=up("lan")),),
        ),
    ]


def terminating(hosts: list[VirtualHost]) -> list[VirtualHost]:
    """The sample without the passthrough host, for dialects that cannot pass TLS through."""
    return [h for h in hosts if h.tls != "passthrough"]


def site(**overrides: object) -> ProxySite:
    return ProxySite(
        certificate=lambda host: (
            f"/etc/letsencrypt/live/{host}/fullchain.pem",
            f"/etc/letsencrypt/live/{host}/privkey.pem",
        ),
        **overrides,
    )


def sample_path(path: str, pattern: bool) -> str | None:
    """A request path that the location matches; None when no simple sample is found."""
    import re

    if not pattern:
        return path + ("probe" if path.endswith("/") else "/probe")
    text = path.removeprefix("^").removesuffix("$")
    text = re.sub(r"\((?:\?:)?([^()|]*)\|[^()]*\)", r"\1", text)  # first alternative
    for wild in ("(.*)", "(.+)", ".*", ".+", "[^/]+", "([^/]+)", "(\\d+)", "\\d+"):
        text = text.replace(wild, "seg1" if "d" in wild else "seg")
    text = text.replace("\\.", ".").replace("(?:", "").replace("(", "").replace(")", "")
    text = text if text.startswith("/") else "/" + text
    return text if re.search(path, text) else None
