"""The one route model every proxy dialect is rendered from.

Recipes describe virtual hosts as data (`[[vhosts]]` in recipe.toml); `from_recipe` turns
them, after template expansion against the stack's settings, into these dataclasses.
Values are validated here so no dialect ever receives text that could change a config's meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from stackctl.errors import RecipeError
from stackctl.values import ValueProblem, hostname

TlsMode = Literal["terminate", "passthrough", "none"]

_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_HEADER_VALUE = re.compile(r"^[\x20-\x7e]*$")
_PATH = re.compile(r"^/[A-Za-z0-9._~!*()+,;=:@%/\-]*$")
_UPSTREAM = re.compile(r"^[a-z0-9.\-]+:\d{1,5}$")
_SIZE = re.compile(r"^\d+[kmg]?$")


@dataclass(frozen=True)
class Location:
    """One path of a virtual host, in the order it must be matched."""

    path: str  # a prefix such as "/api/v1/streaming", or a regex when pattern is true
    upstream: str | None = None  # "127.0.0.1:3000" (host:port, reached over plain HTTP)
    pattern: bool = False
    websocket: bool = False
    static_root: str | None = None  # serve files from this folder instead of proxying
    request_headers: tuple[tuple[str, str], ...] = ()  # set on the request to the upstream
    response_headers: tuple[tuple[str, str], ...] = ()  # set on the response
    unset_response_headers: tuple[str, ...] = ()  # removed from the response
    # headers the server's own config adds to every site (`Header always set` in Apache, IIS
    # custom headers): removed here, while the same headers from the app pass untouched
    unset_server_headers: tuple[str, ...] = ()
    max_body: str | None = None  # "20m", "0" for unlimited
    timeout: int | None = None  # seconds of upstream read/send inactivity
    redirect: str | None = None  # absolute URL prefix; the request path is appended
    redirect_code: int = 301
    keep_encoded_slashes: bool = False  # pass %2F through undecoded (e.g. a WOPISrc in the path)
    strip_prefix: bool = False  # prefix paths only: the upstream sees the path without the prefix
    buffering: bool = (
        True  # false: responses stream to the client as they come (nginx buffers by default)
    )


@dataclass(frozen=True)
class VirtualHost:
    """One host name the proxy serves for a stack, with its locations and TLS."""

    name: str  # identifier inside the stack, e.g. "api"
    hostname: str
    aliases: tuple[str, ...] = ()
    locations: tuple[Location, ...] = ()
    tls: TlsMode = "terminate"
    passthrough_upstream: str | None = None  # host:port of a backend holding its own certificate
    acme_upstream: str | None = None  # host:port answering ACME on port 80 for passthrough
    hsts: bool = True
    http_redirect: bool = True
    max_body: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.hostname, *self.aliases)


@dataclass(frozen=True)
class ProxySite:
    """Site-wide proxy policy, from stackctl.toml."""

    certificate: Any  # callable host -> (cert path, key path)
    acme_webroot: str = "/var/www/acme"
    http_port: int = 80
    https_port: int = 443
    listen_address: str = ""  # "" means all addresses
    stream_backend_port: int = 1443  # where TLS-terminating vhosts listen behind an SNI front
    ipv6: bool = True  # also listen on [::] where the dialect needs it spelled out
    default_max_body: str = "1g"  # request body limit when neither location nor vhost sets one
    hsts_max_age: int = 31536000
    # Servers that cannot serve files (HAProxy, Traefik) send ACME challenges here instead,
    # e.g. `certbot certonly --standalone --http-01-port 8402`; without it HAProxy answers
    # them 404 and Traefik 503 (they are never proxied to an app either way).
    acme_upstream: str | None = None
    runtime_dir: str = "/run/stackctl"  # nginx stream relay sockets for passthrough hosts
    nginx_stream_dir: str = "/etc/nginx/stream.d"  # the SNI map includes stack maps from here
    haproxy_cert_dir: str = "/etc/haproxy/certs"  # HAProxy wants certificate + key in one PEM
    extra: dict[str, Any] = field(default_factory=dict)


def _check(value: str, pattern: re.Pattern[str], what: str, where: str) -> str:
    # fullmatch: with match, a `$` anchor also accepts a value ending in a newline.
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise RecipeError(
            f"{where}: {what} {value!r} is not allowed",
            "it would change the meaning of the proxy config",
        )
    return value


def _headers(raw: dict[str, str] | None, where: str) -> tuple[tuple[str, str], ...]:
    out = []
    for name, value in (raw or {}).items():
        _check(name, _HEADER_NAME, "header name", where)
        _check(str(value), _HEADER_VALUE, f"value of header {name}", where)
        if '"' in str(value) or "\\" in str(value):
            raise RecipeError(f"{where}: header {name} value contains a quote or backslash")
        out.append((name, str(value)))
    return tuple(out)


def location_from(raw: dict[str, Any], where: str) -> Location:
    path = raw["path"]
    if raw.get("pattern"):
        if any(c in path for c in " \"'`{};\n\\$") and not re.fullmatch(
            r"[\^/A-Za-z0-9_.()|*+?\[\]\-\\$]+", path
        ):
            raise RecipeError(
                f"{where}: pattern {path!r} contains characters that are unsafe in proxy configs"
            )
    else:
        _check(path, _PATH, "path", where)
    upstream = raw.get("upstream")
    if upstream is not None:
        _check(upstream, _UPSTREAM, "upstream", where)
    for size in (raw.get("max_body"),):
        if size is not None:
            _check(str(size), _SIZE, "max_body", where)
    return Location(
        path=path,
        upstream=upstream,
        pattern=bool(raw.get("pattern", False)),
        websocket=bool(raw.get("websocket", False)),
        static_root=raw.get("static_root"),
        request_headers=_headers(raw.get("request_headers"), where),
        response_headers=_headers(raw.get("response_headers"), where),
        unset_response_headers=tuple(
            _check(h, _HEADER_NAME, "header name", where)
            for h in raw.get("unset_response_headers", ())
        ),
        unset_server_headers=tuple(
            _check(h, _HEADER_NAME, "header name", where)
            for h in raw.get("unset_server_headers", ())
        ),
        max_body=str(raw["max_body"]) if raw.get("max_body") is not None else None,
        timeout=raw.get("timeout"),
        redirect=raw.get("redirect"),
        redirect_code=int(raw.get("redirect_code", 301)),
        keep_encoded_slashes=bool(raw.get("keep_encoded_slashes", False)),
        strip_prefix=bool(raw.get("strip_prefix", False)),
        buffering=bool(raw.get("buffering", True)),
    )


def vhost_from(raw: dict[str, Any], stack: str) -> VirtualHost:
    where = f"stack {stack}, virtual host {raw.get('name', '?')}"
    try:
        names = [hostname(raw["hostname"]), *(hostname(a) for a in raw.get("aliases", ()))]
    except ValueProblem as exc:
        raise RecipeError(f"{where}: {exc.problem}", exc.allowed) from None
    return VirtualHost(
        name=raw["name"],
        hostname=names[0],
        aliases=tuple(names[1:]),
        locations=tuple(location_from(loc, where) for loc in raw.get("locations", ())),
        tls=raw.get("tls", "terminate"),
        passthrough_upstream=raw.get("passthrough_upstream"),
        acme_upstream=raw.get("acme_upstream"),
        hsts=bool(raw.get("hsts", True)),
        http_redirect=bool(raw.get("http_redirect", True)),
        max_body=str(raw["max_body"]) if raw.get("max_body") is not None else None,
    )
