"""End to end through each real proxy, with TLS from a test CA and echo backends on loopback."""

from __future__ import annotations

import pytest

from stackctl.proxy.routes import plan
from tests.proxy import proxy_samples
from tests.proxy_real import harness
from tests.proxy_real.harness import ACME_TOKEN, PASSTHROUGH, STATIC_FILE

pytestmark = pytest.mark.proxies
FILE_SERVERS = {"nginx", "nginx-stream", "apache", "caddy"}


def ident(world, address: str) -> str:
    return next(name for name, b in world.backends.items() if b.address == address)


def expected_path(route, sample: str) -> str:
    if route.loc.strip_prefix:
        prefix = route.loc.path.rstrip("/")
        return "/" + sample[len(prefix) :].lstrip("/")
    return sample


def first_route(host, sample: str):
    import re

    return next((r for r in host.routes if re.match("^" + r.start, sample)), None)


def routed(world, hosts, tls: str = "terminate"):
    for host in plan(hosts, world.site, "demo"):
        if host.vh.tls != tls:
            continue
        for route in host.routes:
            sample = proxy_samples.sample_path(route.loc.path, route.loc.pattern)
            if sample and first_route(host, sample) is route:
                yield host, route, sample


def check_forwarded(world, reply, host, scheme: str, port: int) -> None:
    seen = reply.json()
    assert seen["host"].split(":")[0] == host.vh.hostname
    headers = seen["headers"]
    assert headers["x-forwarded-proto"] == scheme
    assert headers["x-forwarded-port"] == str(port)
    assert headers["x-forwarded-for"].split(",")[-1].strip() == harness.CLIENT_IP
    assert headers["x-real-ip"] == harness.CLIENT_IP


def test_every_route_reaches_its_upstream(world, proxy):
    dialect, hosts, server = proxy
    context = world.context()
    checked = 0
    for host, route, sample in routed(world, hosts):
        reply = harness.request(world.site.https_port, host.vh.hostname, sample, context)
        where = f"{dialect} {host.vh.hostname}{sample} ({route.kind})"
        if host.hsts:
            assert reply.header_values("Strict-Transport-Security") == [
                f"max-age={world.site.hsts_max_age}"
            ], where
        if route.kind == "redirect":
            assert reply.status == route.loc.redirect_code, where
            assert reply.headers["Location"] == route.loc.redirect.rstrip("/") + sample, where
        elif route.kind == "static" and dialect in FILE_SERVERS:
            assert reply.status == 404, where  # served from disk, and the sample does not exist
        else:
            assert reply.status == 200, f"{where}: {reply.status} {reply.body[:300]!r}"
            assert reply.json()["backend"] == ident(world, route.loc.upstream), where
            assert reply.json()["path"] == expected_path(route, sample), where
            check_forwarded(world, reply, host, "https", world.site.https_port)
            for name, value in route.loc.request_headers:
                assert reply.json()["headers"][name.lower()] == value, where
        for name, value in route.loc.response_headers:
            assert reply.header_values(name) == [value], where
        checked += 1
    assert checked >= 15


def test_websocket_round_trips_on_every_websocket_path(world, proxy):
    dialect, hosts, server = proxy
    context = world.context()
    paths = [(h, r, s) for h, r, s in routed(world, hosts) if r.loc.websocket]
    assert len(paths) >= 5
    for host, route, sample in paths:
        answer = harness.websocket_echo(
            world.site.https_port, host.vh.hostname, sample, context, "hello"
        )
        assert answer == f"{ident(world, route.loc.upstream)}:{expected_path(route, sample)}:hello"


def test_collabora_encoded_slashes_and_wopisrc(world, proxy):
    dialect, hosts, server = proxy
    context = world.context()
    office = f"office.{proxy_samples.DOMAIN}"
    wopi = "http%3A%2F%2Fnc.example.test%2Findex.php%2Fapps%2Frichdocuments%2Fwopi%2Ffiles%2F42"
    for path in (f"/cool/{wopi}/ws", f"/cool/ws?WOPISrc={wopi}&compat=/ws"):
        answer = harness.websocket_echo(world.site.https_port, office, path, context, "x")
        assert answer == f"cool:{path}:x"
    reply = harness.request(world.site.https_port, office, f"/cool/{wopi}/contents", context)
    assert reply.json()["path"] == f"/cool/{wopi}/contents"


def test_http_redirects_to_https_except_acme(world, proxy):
    dialect, hosts, server = proxy
    site = world.site
    for vh in hosts:
        if vh.tls != "terminate":
            continue
        for name in vh.names:
            reply = harness.request(site.http_port, name, "/some/page?x=1&y=%2F")
            assert reply.status == 301, (dialect, name)
            assert (
                reply.headers["Location"] == f"https://{name}:{site.https_port}/some/page?x=1&y=%2F"
            )


def test_acme_path_is_never_proxied(world, proxy):
    dialect, hosts, server = proxy
    site = world.site
    path = f"/.well-known/acme-challenge/{ACME_TOKEN}"
    for vh in hosts:
        if vh.tls == "passthrough":
            reply = harness.request(site.http_port, vh.hostname, path)
            assert reply.json()["backend"] == "pbx-acme"
            continue
        replies = [harness.request(site.http_port, vh.hostname, path)]
        if vh.tls == "terminate":
            replies.append(harness.request(site.https_port, vh.hostname, path, world.context()))
        for reply in replies:
            assert reply.status == 200, (dialect, vh.hostname, reply.status, reply.body[:200])
            if dialect in FILE_SERVERS:
                assert reply.body == b"acme-ok"
            else:  # servers without a file handler hand ACME to the site's ACME helper
                assert reply.json()["backend"] == "acme"


def test_unset_response_headers_are_gone(world, proxy):
    dialect, hosts, server = proxy
    api = f"ente-api.{proxy_samples.DOMAIN}"
    reply = harness.request(
        world.site.https_port,
        api,
        "/users/ott",
        world.context(),
        headers={"Origin": "https://auth.example.test"},
    )
    assert reply.status == 200
    for name in proxy_samples.STRAY:
        assert reply.header_values(name) == [], name
    # The app's own CORS answer stays, exactly once.
    assert reply.header_values("Access-Control-Allow-Origin") == ["https://auth.example.test"]


def test_static_files_and_body_limits(world, proxy):
    dialect, hosts, server = proxy
    context = world.context()
    social = f"social.{proxy_samples.DOMAIN}"
    reply = harness.request(world.site.https_port, social, f"/{STATIC_FILE}", context)
    if dialect in FILE_SERVERS:
        assert reply.status == 200 and reply.body == b"static-ok"
        assert reply.header_values("X-Content-Type-Options") == ["nosniff"]
        assert reply.header_values("X-Csp") == [proxy_samples.CSP]
    else:
        assert reply.json()["backend"] == "web"
    api = f"ente-api.{proxy_samples.DOMAIN}"
    small = harness.request(world.site.https_port, api, "/files", context, "PUT", b"x" * 1024)
    assert small.status == 200 and small.json()["body_len"] == 1024
    big = harness.request(world.site.https_port, api, "/files", context, "PUT", b"x" * (5 << 20))
    assert big.status == 413


def test_unclaimed_paths_are_not_proxied(world, proxy):
    dialect, hosts, server = proxy
    office = f"office.{proxy_samples.DOMAIN}"
    reply = harness.request(world.site.https_port, office, "/nothing/here", world.context())
    assert reply.status == 404
    assert b"backend" not in reply.body


def test_plain_http_host(world, proxy):
    dialect, hosts, server = proxy
    lan = f"lan.{proxy_samples.DOMAIN}"
    reply = harness.request(world.site.http_port, lan, "/status")
    assert reply.json()["backend"] == "lan"
    headers = reply.json()["headers"]
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-real-ip"] == harness.CLIENT_IP


def test_sni_passthrough_hands_tls_to_the_backend(world, proxy):
    dialect, hosts, server = proxy
    if dialect not in PASSTHROUGH:
        pytest.skip(f"{dialect} cannot pass TLS through")
    import ssl

    context = ssl.create_default_context(cafile=str(world.ca_bundle))
    pbx = f"pbx.{proxy_samples.DOMAIN}"
    reply = harness.request(world.site.https_port, pbx, "/admin", context)
    assert reply.json()["backend"] == "pbx"
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    presented = x509.load_der_x509_certificate(reply.peer_cert).fingerprint(hashes.SHA256()).hex()
    assert presented == harness.fingerprint(world.passthrough_cert)
    # Other names still terminate at the proxy, with the proxy's certificate.
    social = f"social.{proxy_samples.DOMAIN}"
    other = harness.request(world.site.https_port, social, "/", world.context())
    assert other.json()["backend"] == "web"
    assert harness.fingerprint(world.root / "certs" / social / "fullchain.pem") == (
        x509.load_der_x509_certificate(other.peer_cert).fingerprint(hashes.SHA256()).hex()
    )


# --- every recipe, through every real proxy -----------------------------------------------------


@pytest.fixture(scope="module")
def recipe_backends():
    made: dict[str, harness.Backend] = {}
    yield made
    for backend in made.values():
        backend.stop()


def _recipe_hosts(world, recipe: str, backends: dict[str, harness.Backend]):
    """The recipe's vhosts with each upstream replaced by an echo backend named after it."""
    import dataclasses

    from tests.proxy.recipe_vhosts import recipe_vhosts

    def swap(address: str | None) -> str | None:
        if address is None:
            return None
        if address not in backends:
            backends[address] = harness.Backend(address)
        return backends[address].address

    hosts = []
    for vh in recipe_vhosts(recipe):
        locations = tuple(
            dataclasses.replace(
                loc,
                upstream=swap(loc.upstream),
                static_root=str(world.root / "static") if loc.static_root else None,
            )
            for loc in vh.locations
        )
        hosts.append(
            dataclasses.replace(
                vh,
                locations=locations,
                passthrough_upstream=swap(vh.passthrough_upstream),
                acme_upstream=swap(vh.acme_upstream),
            )
        )
    return hosts


def _recipes():
    from tests.proxy.recipe_vhosts import recipe_names

    return recipe_names()


@pytest.mark.parametrize("dialect", list(harness.E2E_DIALECTS))
@pytest.mark.parametrize("recipe", _recipes())
def test_recipe_routes_and_websockets(world, recipe_backends, recipe, dialect):
    from tests.proxy_real.conftest import server_for

    if not harness.have(harness.E2E_DIALECTS[dialect]):
        pytest.skip(f"{dialect} is not installed")
    hosts = _recipe_hosts(world, recipe, recipe_backends)
    if dialect not in PASSTHROUGH and any(h.tls == "passthrough" for h in hosts):
        pytest.skip(f"{dialect} cannot pass TLS through")
    server = server_for(world, dialect, hosts, f"recipe-{recipe}-{dialect}", recipe, True)
    server.start()
    port = server.extra["site"].https_port
    by_port = {b.address: name for name, b in recipe_backends.items()}
    context = world.context()
    try:
        for host, route, sample in routed(world, hosts):
            if route.kind != "proxy":
                continue
            reply = harness.request(port, host.vh.hostname, sample, context)
            assert reply.status == 200, (dialect, host.vh.hostname, sample, reply.status)
            assert reply.json()["backend"] == by_port[route.loc.upstream]
            check_forwarded(world, reply, host, "https", port)
            if route.loc.websocket:
                answer = harness.websocket_echo(port, host.vh.hostname, sample, context, "ping")
                assert answer.endswith(":ping") and answer.startswith(by_port[route.loc.upstream])
            for name in route.loc.unset_response_headers:
                assert reply.header_values(name) == []
    finally:
        server.stop()
