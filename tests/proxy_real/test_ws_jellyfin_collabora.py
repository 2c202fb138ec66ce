"""Jellyfin's and Collabora's rendered routes through real nginx and Apache.

The snippets come from the recipes themselves (`stack_vhosts` with the recipe's settings,
then `stackctl.proxy.render`); only the upstream addresses are swapped for echo backends
that report the raw request target they received. Websockets must round-trip on every
path the apps use, and Collabora's URL-encoded WOPISrc must arrive with its %2F intact.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from stackctl.recipe import get_recipe
from stackctl.render import stack_vhosts
from stackctl.settings import parse_site, stack_settings
from tests.proxy_real import harness
from tests.proxy_real.conftest import server_for

pytestmark = pytest.mark.proxies

DIALECTS = ["nginx", "apache"]
DOMAIN = "media.test"
WOPI_SRC = (
    "https%3A%2F%2Fcloud.media.test%2Findex.php%2Fapps%2Frichdocuments%2Fwopi%2Ffiles%2F42_oc1"
)


@pytest.fixture(scope="module")
def echo() -> Iterator[harness.Backend]:
    backend = harness.Backend("app")
    yield backend
    backend.stop()


def recipe_hosts(name: str, settings_raw: dict, backend: harness.Backend):
    site = parse_site({"domain": DOMAIN, "stacks": {name: settings_raw}})
    recipe = get_recipe(name)
    settings = stack_settings(site, name, recipe.settings, [name])
    hosts = []
    for vh in stack_vhosts(recipe, site, settings):
        locations = tuple(
            dataclasses.replace(loc, upstream=backend.address if loc.upstream else None)
            for loc in vh.locations
        )
        hosts.append(dataclasses.replace(vh, locations=locations))
    return hosts


@pytest.fixture
def running(world, echo):
    started: list[harness.Server] = []

    def start(dialect: str, name: str, settings_raw: dict) -> tuple[int, str]:
        if not harness.have(harness.E2E_DIALECTS[dialect]):
            pytest.skip(f"{dialect} is not installed")
        hosts = recipe_hosts(name, settings_raw, echo)
        folder = f"ws-{name}-{dialect}-{len(settings_raw)}"
        server = server_for(world, dialect, hosts, folder, name, fresh_ports=True)
        try:
            server.start()
        except RuntimeError as exc:
            pytest.fail(f"{dialect} did not start: {exc}\n{server.log()}")
        started.append(server)
        return server.extra["site"].https_port, hosts[0].hostname

    yield start
    for server in started:
        server.stop()


def ws(world, port: int, host: str, path: str) -> str:
    return harness.websocket_echo(port, host, path, world.context(), "hello")


def get(world, port: int, host: str, path: str) -> harness.Reply:
    return harness.request(port, host, path, world.context())


@pytest.mark.parametrize("dialect", DIALECTS)
def test_collabora_websockets_keep_the_encoded_wopisrc(world, running, dialect):
    port, host = running(dialect, "collabora", {})
    assert host == f"code.{DOMAIN}"
    for path in (
        f"/cool/{WOPI_SRC}/ws",  # before 26.04
        f"/cool/{WOPI_SRC}/ws?WOPISrc={WOPI_SRC}&compat=/ws",
        f"/cool/ws?WOPISrc={WOPI_SRC}&compat=/ws",  # 26.04
        "/cool/adminws",
    ):
        assert ws(world, port, host, path) == f"app:{path}:hello", (dialect, path)
    # plain HTTP under /cool/ (downloads, uploads) keeps the encoded slashes too
    for path in (f"/cool/{WOPI_SRC}/contents", f"/lool/convert-to/pdf?x={WOPI_SRC}"):
        reply = get(world, port, host, path)
        assert reply.status == 200 and reply.json()["path"] == path, (dialect, path)
    # "/" is coolwsd's "OK", the SDK's reachability check
    for path in (
        "/",
        "/hosting/discovery",
        "/hosting/capabilities",
        "/browser/0a1b2c/cool.html?x=1",
    ):
        reply = get(world, port, host, path)
        assert reply.status == 200 and reply.json()["path"] == path, (dialect, path)
        headers = reply.json()["headers"]
        assert headers["x-forwarded-proto"] == "https" and headers["host"].startswith(host)
    # nothing else is handed to coolwsd
    for path in ("/index.html", "/loleaflet/dist/x"):
        reply = get(world, port, host, path)
        assert reply.status == 404 and b"backend" not in reply.body, (dialect, path)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_jellyfin_socket_and_forwarded_headers(world, running, dialect):
    port, host = running(dialect, "jellyfin", {})
    assert ws(world, port, host, "/socket") == "app:/socket:hello"
    assert ws(world, port, host, "/socket?deviceId=abc") == "app:/socket?deviceId=abc:hello"
    reply = get(world, port, host, "/web/index.html")
    assert reply.status == 200 and reply.json()["path"] == "/web/index.html"
    headers = reply.json()["headers"]
    # what Jellyfin reads from a known proxy: the client address and the https scheme
    assert headers["x-forwarded-for"].split(",")[-1].strip() == harness.CLIENT_IP
    assert headers["x-forwarded-proto"] == "https"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_jellyfin_under_a_base_url(world, running, dialect):
    port, host = running(dialect, "jellyfin", {"base_url": "/jellyfin"})
    assert ws(world, port, host, "/jellyfin/socket") == "app:/jellyfin/socket:hello"
    for path in ("/jellyfin", "/jellyfin/", "/jellyfin/web/index.html"):
        reply = get(world, port, host, path)
        # the prefix reaches Jellyfin unstripped (a stripped one makes it redirect in a loop)
        assert reply.status == 200 and reply.json()["path"] == path, (dialect, path)
    reply = get(world, port, host, "/")
    assert reply.status == 302
    assert reply.headers["Location"] == f"https://{host}/jellyfin/"
