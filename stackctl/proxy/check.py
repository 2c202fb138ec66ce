"""Validate a route model before any dialect sees it.

Recipes normally pass through `model.vhost_from`, but dataclasses can be built directly (tests,
other callers), so the renderer checks every value again. Each rule keeps a value to a character
set that means the same thing in all seven dialects: a value is refused with a clear message
rather than quoted in a way one server might read differently.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from stackctl.errors import RecipeError
from stackctl.proxy.model import Location, ProxySite, VirtualHost
from stackctl.values import ValueProblem, hostname, path

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_PREFIX = re.compile(r"^/[A-Za-z0-9._~!*()+,;=:@/-]*$")
# Patterns: a portable regex subset (PCRE, RE2, .NET and Python agree on it); no braces, quotes,
# spaces, '#', '%' or '$' except as the final end-of-path anchor; a backslash only escapes a
# metacharacter or is a class like \d (nginx and Caddy would turn "\\" or "\n" into other text).
_PATTERN = re.compile(r"^(?:[\^/A-Za-z0-9_.()|*+?\[\]:=!,~@-]|\\[.()|*+?\[\]^$/dwsDWS-])+\$?$")
_UPSTREAM = re.compile(r"^(?P<host>[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?):(?P<port>\d{1,5})$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
# Printable ASCII without the characters some dialect would interpret: quotes and backslash
# (string syntax), '$' (nginx variables, HAProxy env), '%' (Apache/HAProxy formats),
# '{' '}' (Caddy placeholders, IIS server variables), '`' (Traefik rules).
_HEADER_VALUE = re.compile(r"^[\x20-\x7e]*$")
_VALUE_FORBIDDEN = set('"\\$%{}`')
_REDIRECT = re.compile(
    r"^https?://(?P<host>[A-Za-z0-9.-]+)(?::(?P<port>\d{1,5}))?(?P<path>/[A-Za-z0-9._~!*()+,;=:@/-]*)?$"
)
_SIZE = re.compile(r"^(\d{1,12})([kmg]?)$")
_REDIRECT_CODES = (301, 302, 303, 307, 308)
_TLS = ("terminate", "passthrough", "none")
RESERVED_PREFIX = "/.well-known/acme-challenge/"


def size_bytes(value: str) -> int:
    """'20m' -> bytes; '0' means unlimited."""
    number, unit = _SIZE.fullmatch(value).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]


def _fail(where: str, problem: str, allowed: str) -> RecipeError:
    return RecipeError(f"{where}: {problem}", f"allowed: {allowed}")


def upstream(value: object, where: str, what: str = "upstream") -> str:
    match = _UPSTREAM.fullmatch(value) if isinstance(value, str) else None
    if not match or not 1 <= int(match["port"]) <= 65535:
        raise _fail(where, f"{what} {value!r} is not host:port", "e.g. 127.0.0.1:8080")
    return value  # type: ignore[return-value]


def _size(value: object, where: str) -> str:
    if not isinstance(value, str) or not _SIZE.fullmatch(value):
        raise _fail(where, f"max_body {value!r} is not a size", "a number with k, m or g, e.g. 20m")
    return value


def _printable(value: object, where: str, what: str) -> None:
    # stackctl.values anchors with `$`, which also matches before a final newline.
    if isinstance(value, str) and (not value.isprintable() or value != value.strip()):
        raise _fail(where, f"{what} {value!r} has spaces or control characters", "plain text")


def _host(value: object, where: str) -> str:
    _printable(value, where, "hostname")
    try:
        return hostname(value)  # non-ASCII names become their IDNA A-label here
    except ValueProblem as exc:
        raise _fail(where, exc.problem, exc.allowed) from None


def _file(value: object, where: str, what: str) -> str:
    _printable(value, where, what)
    try:
        return path(value)
    except ValueProblem as exc:
        raise _fail(where, f"{what}: {exc.problem}", exc.allowed) from None


def _headers(pairs: Sequence[tuple[str, str]], where: str) -> tuple[tuple[str, str], ...]:
    out = []
    for name, value in pairs:
        header_name(name, where)
        if (
            not isinstance(value, str)
            or not _HEADER_VALUE.fullmatch(value)
            or _VALUE_FORBIDDEN & set(value)
        ):
            raise _fail(
                where,
                f"value {value!r} of header {name} cannot be written safely",
                "printable ASCII without quotes, backslash, $, %, {, } or `",
            )
        out.append((name, value))
    return tuple(out)


def header_name(name: object, where: str) -> str:
    if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
        raise _fail(where, f"header name {name!r} is not allowed", "letters, digits and '-'")
    return name


def pattern(value: object, where: str) -> str:
    if not isinstance(value, str) or not _PATTERN.fullmatch(value):
        raise _fail(
            where,
            f"pattern {value!r} has characters that are unsafe in proxy configs",
            "letters, digits, ^ / _ . ( ) | * + ? [ ] : = ! , ~ @ -, \\. style escapes, a final $",
        )
    if "(?=" in value or "(?!" in value:
        # Caddy and Traefik use Go's RE2, which has no lookaround.
        raise _fail(where, f"pattern {value!r} uses lookahead", "a pattern without (?= or (?!")
    try:
        re.compile(value)
    except re.error as exc:
        raise _fail(where, f"pattern {value!r} is not a regex ({exc})", "a valid regex") from None
    return value


def location(loc: Location, where: str) -> Location:
    where = f"{where}, location {loc.path!r}"
    if loc.pattern:
        pattern(loc.path, where)
    elif not isinstance(loc.path, str) or not _PREFIX.fullmatch(loc.path):
        raise _fail(where, f"path {loc.path!r} is not allowed", "/ then letters, digits, ._~-/ ")
    if not loc.pattern and loc.path.startswith(RESERVED_PREFIX.rstrip("/")):
        raise _fail(where, "the ACME challenge path is reserved", "any other path")
    actions = [loc.upstream is not None, loc.static_root is not None, loc.redirect is not None]
    if loc.static_root is not None and loc.redirect is not None or not any(actions):
        raise _fail(where, "needs exactly one of upstream, static_root or redirect", "one of them")
    if loc.upstream is not None and loc.redirect is not None:
        raise _fail(where, "cannot both proxy and redirect", "upstream or redirect")
    if loc.upstream is not None:
        upstream(loc.upstream, where)
    if loc.static_root is not None:
        _file(loc.static_root, where, "static_root")
    if loc.redirect is not None:
        if not isinstance(loc.redirect, str) or not _REDIRECT.fullmatch(loc.redirect):
            raise _fail(where, f"redirect {loc.redirect!r} is not allowed", "https://host/path")
        _host(_REDIRECT.fullmatch(loc.redirect)["host"], where)
    if loc.redirect_code not in _REDIRECT_CODES:
        raise _fail(where, f"redirect_code {loc.redirect_code!r}", "301, 302, 303, 307 or 308")
    if loc.max_body is not None:
        _size(loc.max_body, where)
    if loc.timeout is not None and (
        isinstance(loc.timeout, bool) or not isinstance(loc.timeout, int) or not loc.timeout > 0
    ):
        raise _fail(where, f"timeout {loc.timeout!r} is not a whole number", "seconds, e.g. 3600")
    if loc.strip_prefix and (loc.pattern or loc.keep_encoded_slashes or loc.upstream is None):
        raise _fail(
            where, "strip_prefix needs a proxied prefix path", "no pattern, no encoded slashes"
        )
    for name in (*loc.unset_response_headers, *loc.unset_server_headers):
        header_name(name, where)
    return dataclasses.replace(
        loc,
        request_headers=_headers(loc.request_headers, where),
        response_headers=_headers(loc.response_headers, where),
    )


def vhost(vh: VirtualHost, stack: str) -> VirtualHost:
    where = f"stack {stack}, virtual host {vh.name!r}"
    if not isinstance(vh.name, str) or not _NAME.fullmatch(vh.name):
        raise _fail(where, f"name {vh.name!r} is not allowed", "lower-case letters, digits, - _")
    if vh.tls not in _TLS:
        raise _fail(where, f"tls {vh.tls!r}", "terminate, passthrough or none")
    names = [_host(vh.hostname, where), *(_host(a, where) for a in vh.aliases)]
    if vh.max_body is not None:
        _size(vh.max_body, where)
    if vh.tls == "passthrough":
        if vh.passthrough_upstream is None or vh.locations:
            raise _fail(
                where,
                "passthrough needs passthrough_upstream and no locations",
                "the backend routes its own paths",
            )
        upstream(vh.passthrough_upstream, where, "passthrough_upstream")
    elif vh.passthrough_upstream is not None:
        raise _fail(where, "passthrough_upstream is set but tls is not passthrough", "tls")
    if vh.acme_upstream is not None:
        upstream(vh.acme_upstream, where, "acme_upstream")
    return dataclasses.replace(
        vh,
        hostname=names[0],
        aliases=tuple(names[1:]),
        locations=tuple(location(loc, where) for loc in vh.locations),
    )


def site(ps: ProxySite) -> ProxySite:
    where = "proxy settings"
    for port in (ps.http_port, ps.https_port, ps.stream_backend_port):
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise _fail(where, f"port {port!r}", "1 to 65535")
    if ps.listen_address and not re.match(r"^\d{1,3}(\.\d{1,3}){3}$", ps.listen_address):
        raise _fail(where, f"listen_address {ps.listen_address!r}", "an IPv4 address or empty")
    _file(ps.acme_webroot, where, "acme_webroot")
    _file(ps.runtime_dir, where, "runtime_dir")
    _file(ps.haproxy_cert_dir, where, "haproxy_cert_dir")
    _size(ps.default_max_body, where)
    if ps.acme_upstream is not None:
        upstream(ps.acme_upstream, where, "acme_upstream")
    return ps


def certificate(ps: ProxySite, host: str) -> tuple[str, str]:
    cert, key = ps.certificate(host)
    where = f"certificate for {host}"
    return _file(cert, where, "certificate"), _file(key, where, "key")


def all_vhosts(vhosts: Sequence[VirtualHost], ps: ProxySite, stack: str) -> tuple[VirtualHost, ...]:
    if not isinstance(stack, str) or not _NAME.fullmatch(stack):
        raise _fail("proxy", f"stack name {stack!r} is not allowed", "lower-case letters, digits")
    site(ps)
    checked = tuple(vhost(vh, stack) for vh in vhosts)
    seen: dict[str, str] = {}
    for vh in checked:
        for name in vh.names:
            if name in seen:
                raise _fail(
                    f"stack {stack}",
                    f"hostname {name} is used by {seen[name]} and {vh.name}",
                    "once",
                )
            seen[name] = vh.name
    if len({vh.name for vh in checked}) != len(checked):
        raise _fail(f"stack {stack}", "two virtual hosts share a name", "unique names")
    return checked
