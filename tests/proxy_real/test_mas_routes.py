"""MAS's rendered routes through real nginx, Apache, Caddy and HAProxy.

The snippets come from the recipe (`stack_vhosts`, then `stackctl.proxy.render`); only the
upstream addresses are swapped for two echo backends, one where MAS listens and one where
Synapse does, so every request shows which of them it reached and with which headers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator

import pytest

from stackctl.recipe import get_recipe
from stackctl.render import stack_vhosts
from stackctl.settings import parse_site, stack_settings
from tests.proxy_real import harness
from tests.proxy_real.conftest import server_for

pytestmark = pytest.mark.proxies

DIALECTS = ["nginx", "apache", "caddy", "haproxy"]
DOMAIN = "matrix.test"


@pytest.fixture(scope="module")
def backends() -> Iterator[dict[str, harness.Backend]]:
    found = {"mas": harness.Backend("mas"), "synapse": harness.Backend("synapse")}
    yield found
    for backend in found.values():
        backend.stop()


def mas_hosts(backends: dict[str, harness.Backend]):
    site = parse_site({"domain": DOMAIN, "stacks": {"mas": {}}})
    recipe = get_recipe("mas")
    settings = stack_settings(site, "mas", recipe.settings, ["mas"])
    mas_port, synapse_port = f":{settings['port']}", f":{settings['synapse_port']}"
    hosts = []
    for vh in stack_vhosts(recipe, site, settings):
        locations = []
        for loc in vh.locations:
            target = "mas" if loc.upstream.endswith(mas_port) else "synapse"
            assert loc.upstream.endswith((mas_port, synapse_port)), loc.upstream
            locations.append(dataclasses.replace(loc, upstream=backends[target].address))
        hosts.append(dataclasses.replace(vh, locations=tuple(locations)))
    return hosts


@pytest.fixture
def running(world, backends):
    started: list[harness.Server] = []

    def start(dialect: str) -> int:
        if not harness.have(harness.E2E_DIALECTS[dialect]):
            pytest.skip(f"{dialect} is not installed")
        hosts = mas_hosts(backends)
        server = server_for(world, dialect, hosts, f"mas-{dialect}", "mas", fresh_ports=True)
        checked = server.check()  # the server's own config test (nginx -t, caddy validate, ...)
        assert checked.returncode == 0, (dialect, checked.stdout + checked.stderr)
        try:
            server.start()
        except RuntimeError as exc:
            pytest.fail(f"{dialect} did not start: {exc}\n{server.log()}")
        started.append(server)
        return server.extra["site"].https_port

    yield start
    for server in started:
        server.stop()


def reached(world, port: int, host: str, path: str, method: str = "GET", body: bytes | None = None):
    reply = harness.request(port, host, path, world.context(), method=method, body=body)
    assert reply.status == 200, (host, path, reply.status, reply.body[:300])
    answer = reply.json()
    return answer["backend"], answer


@pytest.mark.parametrize("dialect", DIALECTS)
def test_compat_logins_reach_mas_and_the_rest_reaches_synapse(world, running, dialect):
    port = running(dialect)
    homeserver = f"matrix.{DOMAIN}"
    for path in (
        "/_matrix/client/v3/login",
        "/_matrix/client/r0/login",
        "/_matrix/client/v3/logout",
        "/_matrix/client/v3/refresh",
        "/_matrix/client/v3/login/sso/redirect?redirectUrl=x",
    ):
        backend, answer = reached(world, port, homeserver, path)
        assert backend == "mas" and answer["path"] == path, (dialect, path)
    for path in (
        "/_matrix/client/v3/sync?timeout=0",
        "/_matrix/client/v3/account/whoami",
        "/_matrix/client/versions",
        "/_matrix/media/v3/config",
        "/_synapse/client/pick_idp",
        "/_synapse/mas/query_user?localpart=admin",
    ):
        backend, answer = reached(world, port, homeserver, path)
        assert backend == "synapse" and answer["path"] == path, (dialect, path)
        headers = answer["headers"]
        assert headers["x-forwarded-proto"] == "https" and headers["host"].startswith(homeserver)
    # 50 MB bodies reach Synapse (media uploads)
    body = b"x" * (40 * 1024 * 1024)
    backend, _ = reached(world, port, homeserver, "/_matrix/media/v3/upload", "POST", body)
    assert backend == "synapse"


def login_body(padding: int = 0) -> bytes:
    body = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": "admin"},
        "password": "correct horse battery staple",
    }
    if padding:
        body["padding"] = "p" * padding  # an unknown field: the size is what is tested
    return json.dumps(body).encode()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_login_post_reaches_mas_whole_with_host_and_scheme(world, running, dialect):
    """The compat login is a POST (with `Expect: 100-continue`, as curl sends it): MAS gets
    the JSON body byte for byte, the Host the client asked for and `X-Forwarded-Proto: https`;
    a body of several MB passes too, which nginx's 1 MB default would refuse."""
    port = running(dialect)
    homeserver = f"matrix.{DOMAIN}"
    for path, body in (
        ("/_matrix/client/v3/login", login_body()),
        ("/_matrix/client/r0/login", login_body()),
        ("/_matrix/client/v3/login", login_body(padding=6 * 1024 * 1024)),
    ):
        backend, answer = reached(world, port, homeserver, path, "POST", body)
        assert (backend, answer["method"], answer["path"]) == ("mas", "POST", path), dialect
        assert answer["body_len"] == len(body), (dialect, answer["body_len"])
        assert answer["body_sha256"] == hashlib.sha256(body).hexdigest(), dialect
        headers = answer["headers"]
        assert headers["host"].split(":")[0] == homeserver, (dialect, headers["host"])
        assert headers["x-forwarded-proto"] == "https", (dialect, headers)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_auth_host_reaches_mas_and_the_server_name_serves_the_well_known(
    world, running, dialect
):
    port = running(dialect)
    for path in ("/", "/login", "/oauth2/introspect", "/.well-known/openid-configuration"):
        backend, answer = reached(world, port, f"auth.{DOMAIN}", path)
        assert backend == "mas" and answer["path"] == path, (dialect, path)
    backend, answer = reached(world, port, DOMAIN, "/.well-known/matrix/client")
    assert backend == "synapse" and answer["path"] == "/.well-known/matrix/client"
