"""Traefik is not packaged for Debian bookworm, so its file-provider YAML is checked here
against the dynamic-configuration schema (the parts stackctl writes), and routing is
simulated with Traefik's rule: highest priority among matching routers wins."""

from __future__ import annotations

import re

import pytest

from stackctl import proxy
from stackctl.proxy.routes import plan
from tests.proxy import proxy_samples as samples

yaml = pytest.importorskip("yaml")

ROUTER = {
    "entryPoints": list,
    "rule": str,
    "priority": int,
    "middlewares": list,
    "service": str,
    "tls": dict,
}
MIDDLEWARES = {
    "headers": {"customRequestHeaders": dict, "customResponseHeaders": dict},
    "redirectScheme": {"scheme": str, "port": str, "permanent": bool},
    "redirectRegex": {"regex": str, "replacement": str, "permanent": bool},
    "stripPrefix": {"prefixes": list},
    "buffering": {"maxRequestBodyBytes": int},
}
LOAD_BALANCER = {"servers": list, "passHostHeader": bool, "serversTransport": str}
TCP_ROUTER = {"entryPoints": list, "rule": str, "service": str, "tls": dict}
MATCHERS = {"Host", "PathPrefix", "PathRegexp", "HostSNI"}
DURATION = re.compile(r"^\d+(ms|s|m|h)$")


def keys_ok(value: dict, schema: dict, where: str) -> None:
    assert isinstance(value, dict), where
    for key, item in value.items():
        assert key in schema, f"{where}: unknown key {key}"
        assert isinstance(item, schema[key]), f"{where}.{key}: {type(item).__name__}"


def parse_rule(rule: str) -> list[tuple[str, str]]:
    """(matcher, argument) pairs; also checks the grammar is what Traefik v3 accepts."""
    calls = re.findall(r"(\w+)\(`([^`]*)`\)", rule)
    rest = re.sub(r"(\w+)\(`([^`]*)`\)", "X", rule)
    assert re.fullmatch(r"[X()|& ]+", rest), rule
    assert rest.count("(") == rest.count(")"), rule
    for matcher, arg in calls:
        assert matcher in MATCHERS, rule
        if matcher == "PathRegexp":
            re.compile(arg)
            assert "(?=" not in arg and "(?!" not in arg  # Go's RE2
    return calls


def validate(doc: dict) -> None:
    assert set(doc) <= {"http", "tcp", "tls"}
    http = doc["http"]
    assert set(http) <= {"routers", "middlewares", "services", "serversTransports"}
    services = set(http["services"])
    for name, router in http["routers"].items():
        keys_ok(router, ROUTER, f"router {name}")
        assert set(router["entryPoints"]) <= {"web", "websecure"}
        parse_rule(router["rule"])
        assert router["service"] in services or router["service"].endswith("@internal")
        for middleware in router.get("middlewares", []):
            assert middleware in http["middlewares"], middleware
    for name, middleware in http["middlewares"].items():
        assert len(middleware) == 1, name
        kind, body = next(iter(middleware.items()))
        keys_ok(body, MIDDLEWARES[kind], f"middleware {name}")
    for name, service in http["services"].items():
        keys_ok(service["loadBalancer"], LOAD_BALANCER, f"service {name}")
        for server in service["loadBalancer"]["servers"]:
            assert set(server) == {"url"} and re.match(r"^http://[\w.-]+:\d+$", server["url"])
        transport = service["loadBalancer"].get("serversTransport")
        if transport:
            assert transport in http["serversTransports"]
    for transport in http.get("serversTransports", {}).values():
        assert DURATION.match(transport["forwardingTimeouts"]["responseHeaderTimeout"])
    tcp = doc.get("tcp", {})
    for name, router in tcp.get("routers", {}).items():
        keys_ok(router, TCP_ROUTER, f"tcp router {name}")
        assert router["tls"] == {"passthrough": True}
        assert router["service"] in tcp["services"]
        assert {m for m, _ in parse_rule(router["rule"])} == {"HostSNI"}
    for cert in doc.get("tls", {}).get("certificates", []):
        assert set(cert) == {"certFile", "keyFile"}


def route(doc: dict, entry: str, host: str, path: str) -> dict | None:
    """The router Traefik would pick: matching rule with the highest priority."""
    best = None
    for router in doc["http"]["routers"].values():
        if entry not in router["entryPoints"]:
            continue
        calls = parse_rule(router["rule"])
        hosts = [a for m, a in calls if m == "Host"]
        paths = [(m, a) for m, a in calls if m in ("PathPrefix", "PathRegexp")]
        if host not in hosts:
            continue
        if paths:
            matcher, arg = paths[0]
            ok = path.startswith(arg) if matcher == "PathPrefix" else re.search(arg, path)
            if not ok:
                continue
        if best is None or router["priority"] > best["priority"]:
            best = router
    return best


@pytest.fixture(scope="module")
def doc():
    site = samples.site(acme_upstream="127.0.0.1:8402", https_port=8443)
    text = proxy.render(samples.vhosts(), "traefik", site, "demo")["traefik/stackctl-demo.yml"]
    return yaml.safe_load(text)


def test_schema(doc):
    validate(doc)


def test_routing_matches_the_route_order(doc):
    for host in plan(samples.vhosts(), samples.site(), "demo"):
        if host.vh.tls != "terminate":
            continue
        for r in host.routes:
            sample = samples.sample_path(r.loc.path, r.loc.pattern)
            winner = next(x for x in host.routes if re.match("^" + x.start, sample))
            picked = route(doc, "websecure", host.vh.hostname, sample)
            assert picked["service"] in (
                f"stackctl-demo-{host.vh.name}-{winner.name}",
                "noop@internal",
            )
        acme = route(doc, "web", host.vh.hostname, "/.well-known/acme-challenge/x")
        assert acme["service"] == f"stackctl-demo-{host.vh.name}-acme"
        assert route(doc, "web", host.vh.hostname, "/x")["middlewares"] == [
            "stackctl-demo-to-https"
        ]


def test_redirects_headers_and_passthrough(doc):
    middlewares = doc["http"]["middlewares"]
    assert middlewares["stackctl-demo-to-https"]["redirectScheme"]["port"] == "8443"
    regex = middlewares["stackctl-demo-local-r0-redirect"]["redirectRegex"]
    assert re.sub(
        regex["regex"],
        regex["replacement"].replace("${1}", r"\1"),
        "https://example.test/.well-known/webfinger?resource=a",
    ) == ("https://social.example.test/.well-known/webfinger?resource=a")
    unset = middlewares["stackctl-demo-api-r0-headers"]["headers"]["customResponseHeaders"]
    assert unset == {name: "" for name in samples.STRAY}  # "" removes the header
    assert doc["tcp"]["routers"]["stackctl-demo-pbx"]["rule"] == "HostSNI(`pbx.example.test`)"
    assert middlewares["stackctl-demo-api-r0-body"]["buffering"]["maxRequestBodyBytes"] == 4 << 20
