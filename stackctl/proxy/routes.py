"""The checked model as templates see it: one `Route` per location, in match order.

Every dialect matches paths with regexes built here, so "first location in order wins" means the
same thing everywhere: nginx and HAProxy check rules in order, and where a server merges or
sorts sections (Apache <LocationMatch>, Caddy `handle`, Traefik priorities) each route also gets
an exclusive form that cannot match a path an earlier route already took.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stackctl.proxy import check
from stackctl.proxy.model import Location, ProxySite, VirtualHost

ACME = check.RESERVED_PREFIX
_META = set(".*()+?[]^$|\\")


def literal(text: str) -> str:
    """A path as a regex; metacharacters go in brackets since backslashes mean different things
    inside nginx, Caddy and HAProxy strings."""
    return "".join(f"[{c}]" if c in _META else c for c in text)


ACME_START = literal(ACME)


@dataclass(frozen=True)
class Route:
    """One location of a virtual host, ordered as the proxy dialects need it."""

    index: int
    loc: Location
    start: str  # regex (no leading ^) matching at the start of a path iff this location matches
    earlier: tuple[str, ...]  # `start` of the ACME path and of every earlier route
    max_body: str
    max_body_bytes: int
    max_body_explicit: bool = False  # set by the location or vhost, not the site default

    @property
    def kind(self) -> str:
        if self.loc.redirect is not None:
            return "redirect"
        return "static" if self.loc.static_root is not None else "proxy"

    @property
    def regex(self) -> str:
        """The location's own regex, as written for servers that test routes in order."""
        return self.loc.path if self.loc.pattern else "^" + literal(self.loc.path)

    @property
    def exclusive(self) -> str:
        """PCRE/.NET form that matches only paths no earlier route matched (lookaheads)."""
        return "^" + "".join(f"(?!{e})" for e in self.earlier) + f"(?={self.start})"

    @property
    def strip_regex(self) -> str:
        """With strip_prefix: group 1 is the path after the prefix."""
        return "^" + literal(self.loc.path.rstrip("/")) + "/?(.*)$"

    @property
    def name(self) -> str:
        return f"r{self.index}"

    @property
    def timeout(self) -> int | None:
        """Upstream inactivity limit; websockets default to an hour rather than a minute."""
        return self.loc.timeout or (3600 if self.loc.websocket else None)

    @property
    def is_catch_all(self) -> bool:
        return not self.loc.pattern and self.loc.path == "/"


@dataclass(frozen=True)
class Host:
    """A checked virtual host with its routes and certificate paths."""

    vh: VirtualHost
    routes: tuple[Route, ...]
    cert: str
    key: str
    stack: str

    @property
    def id(self) -> str:
        """A token unique per stack and vhost, safe in every server's identifiers."""
        return f"{self.stack}_{self.vh.name}".replace("-", "_")

    @property
    def names(self) -> tuple[str, ...]:
        return self.vh.names

    @property
    def keep_encoded_slashes(self) -> bool:
        return any(r.loc.keep_encoded_slashes for r in self.routes)

    @property
    def hsts(self) -> bool:
        return self.vh.hsts and self.vh.tls == "terminate"

    @property
    def websocket(self) -> bool:
        return any(r.loc.websocket for r in self.routes)


def start_of(loc: Location) -> str:
    if not loc.pattern:
        return literal(loc.path)
    body = loc.path
    return f"(?:{body})" if body.startswith("^") else f".*(?:{body})"


def plan(vhosts: Sequence[VirtualHost], site: ProxySite, stack: str) -> tuple[Host, ...]:
    hosts = []
    for vh in check.all_vhosts(vhosts, site, stack):
        routes: list[Route] = []
        earlier = [ACME_START]
        for index, loc in enumerate(vh.locations):
            size = loc.max_body or vh.max_body or site.default_max_body
            start = start_of(loc)
            explicit = (loc.max_body or vh.max_body) is not None
            routes.append(
                Route(index, loc, start, tuple(earlier), size, check.size_bytes(size), explicit)
            )
            earlier.append(start)
        cert, key = ("", "")
        if vh.tls == "terminate":
            cert, key = check.certificate(site, vh.hostname)
        hosts.append(Host(vh, tuple(routes), cert, key, stack))
    return tuple(hosts)


def https_suffix(site: ProxySite) -> str:
    """':8443' when the HTTPS port is not the default, for redirect targets."""
    return "" if site.https_port == 443 else f":{site.https_port}"


def redirect_target(loc: Location) -> str:
    return (loc.redirect or "").rstrip("/")


def refuse_static(hosts: Sequence[Host], stack: str, server: str) -> None:
    """For servers that cannot serve files from disk: every location needs an upstream."""
    from stackctl.errors import RecipeError

    for host in hosts:
        for route in host.routes:
            if route.kind == "static" and route.loc.upstream is None:
                raise RecipeError(
                    f"stack {stack}: location {route.loc.path} of {host.vh.name} serves files "
                    f"from disk, which {server} cannot do",
                    "give the location an upstream that serves the same files",
                )


def refuse_passthrough(
    hosts: Sequence[Host],
    stack: str,
    how: str,
    hint: str = "render with --dialect nginx-stream, haproxy or traefik",
) -> None:
    """For servers that terminate every TLS connection: no host may ask for SNI passthrough."""
    from stackctl.errors import RecipeError

    for host in hosts:
        if host.vh.tls == "passthrough":
            raise RecipeError(
                f"stack {stack}: virtual host {host.vh.name} uses SNI passthrough, {how}", hint
            )
