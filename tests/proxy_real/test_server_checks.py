"""Each server's own config check on every dialect it loads, for the samples and every recipe."""

from __future__ import annotations

import dataclasses

import pytest

from tests.proxy.recipe_vhosts import recipe_names, recipe_vhosts
from tests.proxy_real import harness
from tests.proxy_real.conftest import server_for
from tests.proxy_real.harness import E2E_DIALECTS, PASSTHROUGH

pytestmark = pytest.mark.proxies


def _check(world, dialect: str, hosts, folder: str, stack: str) -> None:
    kind = E2E_DIALECTS[dialect]
    if not harness.have(kind):
        pytest.skip(f"{kind} is not installed")
    server = server_for(world, dialect, hosts, folder, stack)
    result = server.check()
    assert result.returncode == 0, f"{kind} check failed:\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("dialect", list(E2E_DIALECTS))
def test_samples_pass_the_server_check(world, dialect):
    _check(world, dialect, world.vhosts(dialect), f"check-samples-{dialect}", "demo")


@pytest.mark.parametrize("dialect", list(E2E_DIALECTS))
@pytest.mark.parametrize("recipe", recipe_names())
def test_recipes_pass_the_server_check(world, recipe, dialect):
    hosts = recipe_vhosts(recipe)
    if dialect not in PASSTHROUGH and any(h.tls == "passthrough" for h in hosts):
        pytest.skip(f"{dialect} cannot pass TLS through")
    static = str(world.root / "static")
    hosts = [
        dataclasses.replace(
            h,
            locations=tuple(
                dataclasses.replace(loc, static_root=static) if loc.static_root else loc
                for loc in h.locations
            ),
        )
        for h in hosts
    ]
    _check(world, dialect, hosts, f"check-{recipe}-{dialect}", recipe)


ODD_VALUE = "default-src 'none'; img-src data: https:; # <a> & b"


def odd_vhosts(world) -> list:
    """Allowed but unusual values: punctuation in paths and header values, a non-ASCII name."""
    from stackctl.proxy.model import Location, VirtualHost

    return [
        VirtualHost(
            "odd",
            "bücher.example.test",
            locations=(
                Location("/a;b=c:d@e!f~g*h(i)j+k,l", upstream=world.up("web")),
                Location("^/re/[0-9]+/x\\.json$", pattern=True, upstream=world.up("streaming")),
                Location(
                    "/",
                    upstream=world.up("lan"),
                    response_headers=(("X-Odd", ODD_VALUE),),
                    request_headers=(("X-Odd-In", ODD_VALUE),),
                ),
            ),
        )
    ]


@pytest.mark.parametrize("dialect", list(E2E_DIALECTS))
def test_unusual_values_keep_their_meaning(world, dialect):
    kind = E2E_DIALECTS[dialect]
    if not harness.have(kind):
        pytest.skip(f"{kind} is not installed")
    server = server_for(world, dialect, odd_vhosts(world), f"odd-{dialect}", "odd", True)
    server.start()
    try:
        port, context = server.extra["site"].https_port, world.context()
        name = "xn--bcher-kva.example.test"
        reply = harness.request(port, name, "/a;b=c:d@e!f~g*h(i)j+k,l/x", context)
        assert reply.json()["backend"] == "web"
        assert (
            harness.request(port, name, "/re/42/x.json", context).json()["backend"] == "streaming"
        )
        other = harness.request(port, name, "/re/42/xyjson", context)
        assert other.json()["backend"] == "lan"  # the '.' is a literal dot, not "any character"
        assert other.header_values("X-Odd") == [ODD_VALUE]
        assert other.json()["headers"]["x-odd-in"] == ODD_VALUE
    finally:
        server.stop()
