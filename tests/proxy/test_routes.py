"""Route semantics shared by every dialect: first location in order wins, ACME never routed."""

from __future__ import annotations

import re

import pytest

from stackctl.proxy.routes import ACME, literal, plan
from tests.proxy import proxy_samples as samples

PATHS = [
    "/",
    "/system/a.png",
    "/systemx",
    "/api/v1/streaming",
    "/api/v1/streaming/user",
    "/cool/http://wopi/files/1/ws",
    "/cool/ws",
    "/cool/adminws",
    "/cool/x",
    "/browser/dist/admin/admin.html",
    "/hosting/discovery",
    "/socket",
    "/pad/socket.io/",
    "/.well-known/webfinger",
    "/.well-known/acme-challenge/tok",
    "/nothing",
]


def first(host, path: str):
    if path.startswith(ACME):
        return None
    return next((r for r in host.routes if re.match("^" + r.start, path)), None)


def test_literal_escapes_regex_metacharacters_without_backslashes():
    assert literal("/a.b*(c)+") == "/a[.]b[*][(]c[)][+]"
    assert re.match("^" + literal("/a.b"), "/a.b") and not re.match("^" + literal("/a.b"), "/axb")


@pytest.mark.parametrize("path", PATHS)
def test_exclusive_forms_match_exactly_the_first_route(path):
    for host in plan(samples.vhosts(), samples.site(), "demo"):
        winner = first(host, path)
        for route in host.routes:
            matched = re.match(route.exclusive, path) is not None
            assert matched == (route is winner), (host.vh.name, route.loc.path, path)


def test_pattern_before_prefix_keeps_its_order():
    office = next(
        h for h in plan(samples.vhosts(), samples.site(), "demo") if h.vh.name == "office"
    )
    assert first(office, "/cool/abc/ws").loc.pattern
    assert first(office, "/cool/ws").loc.path == "/cool/ws"
    assert first(office, "/cool/abc").loc.path == "/cool/"


def test_defaults():
    web = plan(samples.vhosts(), samples.site(), "demo")[0]
    static, streaming, default = web.routes
    assert streaming.timeout == 3600  # websockets are not cut after a minute
    assert default.timeout == 90 and default.max_body_bytes == 20 << 20
    assert static.max_body == "1g" and not static.max_body_explicit
    assert default.max_body_explicit


@pytest.mark.parametrize(
    ("path", "pattern", "sample"),
    [
        ("/api/v1/streaming", False, "/api/v1/streaming/probe"),
        ("/pad/", False, "/pad/probe"),
        ("^/cool/(.*)/ws$", True, "/cool/seg/ws"),
        ("^/_matrix/client/(.*)/(login|logout|refresh)", True, "/_matrix/client/seg/login"),
    ],
)
def test_sample_paths(path, pattern, sample):
    assert samples.sample_path(path, pattern) == sample
