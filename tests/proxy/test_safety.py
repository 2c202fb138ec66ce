"""Values that could break a config are refused with a clear error, or rendered safely."""

from __future__ import annotations

import dataclasses

import pytest

from stackctl import proxy
from stackctl.errors import RecipeError
from stackctl.proxy.model import Location, VirtualHost, vhost_from
from tests.proxy import proxy_samples as samples

HOSTILE = [" ", '"', "'", "$", "\n", ";", "{", "}", "`", "\\", "#"]


def host(**changes) -> VirtualHost:
    base = VirtualHost("web", "a.example.test", locations=(Location("/", upstream="127.0.0.1:80"),))
    return dataclasses.replace(base, **changes)


def loc(**changes) -> VirtualHost:
    return host(locations=(dataclasses.replace(Location("/", upstream="127.0.0.1:80"), **changes),))


def refuses(vh: VirtualHost, match: str | None = None) -> None:
    for dialect in proxy.DIALECTS:
        with pytest.raises(RecipeError, match=match) as info:
            proxy.render([vh], dialect, samples.site(), "demo")
        assert info.value.hint, "every refusal says what is allowed"


@pytest.mark.parametrize("bad", [*HOSTILE, "\t", "\x00"])
def test_hostnames(bad):
    refuses(host(hostname=f"a{bad}b.example.test"))
    refuses(host(aliases=(f"x{bad}.example.test",)))
    refuses(host(hostname=f"a.example.test{bad}"))
    with pytest.raises(RecipeError):
        vhost_from({"name": "web", "hostname": f"a{bad}b.example.test"}, "demo")


def test_non_ascii_hostname_becomes_its_a_label_everywhere():
    vh = host(hostname="bücher.example.test")
    for dialect in proxy.DIALECTS:
        text = "".join(proxy.render([vh], dialect, samples.site(), "demo").values())
        assert "xn--bcher-kva.example.test" in text and "bücher" not in text
    assert vhost_from({"name": "w", "hostname": "bücher.example.test"}, "d").hostname == (
        "xn--bcher-kva.example.test"
    )


@pytest.mark.parametrize("bad", ['"', "$", "\n", "{", "}", "`", "\\", "%", "\r", "\x00", "é"])
def test_header_values(bad):
    refuses(loc(request_headers=(("X-A", f"a{bad}b"),)), "header X-A")
    refuses(loc(response_headers=(("X-A", f"a{bad}b"),)), "header X-A")


@pytest.mark.parametrize("bad", HOSTILE + [":", "_", "é"])
def test_header_names(bad):
    refuses(loc(request_headers=((f"X{bad}A", "v"),)), "header name")
    refuses(loc(unset_response_headers=(f"X{bad}A",)), "header name")


def test_harmless_punctuation_in_header_values_is_kept_verbatim():
    value = "default-src 'none'; form-action 'none' # <a>&b"
    vh = loc(response_headers=(("Content-Security-Policy", value),))
    for dialect in proxy.DIALECTS:
        text = "".join(proxy.render([vh], dialect, samples.site(), "demo").values())
        escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert value in text or escaped in text, dialect


@pytest.mark.parametrize("bad", [" ", '"', "'", "$", "\n", "{", "`", "\\", "#", "?", "%"])
def test_paths(bad):
    refuses(loc(path=f"/a{bad}b"), "path")
    refuses(loc(path=f"/a{bad}"), "path")


@pytest.mark.parametrize(
    "pattern",
    [
        '^/a"b',
        "^/a b",
        "^/a{2}",
        "^/a$b",
        "^/a\\nb",
        "^/a\\\\b",
        "^/(?=x)",
        "^/a#b",
        "^/a%b",
        "(",
        "^/a'b",
    ],
)
def test_patterns(pattern):
    refuses(loc(path=pattern, pattern=True), "pattern")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("upstream", "127.0.0.1:80; x"),
        ("upstream", "host name:80"),
        ("upstream", "127.0.0.1:99999"),
        ("upstream", "$host:80"),
        ("static_root", "/srv/my files"),
        ("static_root", '/srv/"x'),
        ("static_root", "relative/path"),
        ("static_root", "/srv/x\n"),
        ("redirect", "https://a.example.test/x y"),
        ("redirect", 'https://a.example.test/"'),
        ("redirect", "https://a.example.test/$1"),
        ("redirect", "javascript:alert(1)"),
        ("max_body", "20 m"),
        ("max_body", "1t"),
        ("timeout", "60s"),
        ("timeout", -1),
        ("redirect_code", 200),
    ],
)
def test_location_fields(field, value):
    changes = {field: value}
    if field in ("static_root", "redirect"):
        changes["upstream"] = None
    refuses(loc(**changes))


def test_site_values():
    bad_cert = samples.site()
    bad_cert = dataclasses.replace(bad_cert, certificate=lambda h: (f"/etc/x {h}", "/etc/k"))
    for dialect in proxy.DIALECTS:
        with pytest.raises(RecipeError, match="certificate"):
            proxy.render([host()], dialect, bad_cert, "demo")
    for change in (
        {"acme_webroot": "/var/www/a b"},
        {"listen_address": "0.0.0.0; x"},
        {"https_port": 0},
        {"acme_upstream": "x y:1"},
    ):
        with pytest.raises(RecipeError):
            proxy.render([host()], "nginx", samples.site(**change), "demo")


def test_stack_and_vhost_names():
    with pytest.raises(RecipeError, match="stack name"):
        proxy.render([host()], "nginx", samples.site(), "my stack")
    refuses(host(name="web site"), "name")
    with pytest.raises(RecipeError, match="used by"):
        proxy.render([host(), host(name="other")], "nginx", samples.site(), "demo")


def test_acme_path_cannot_be_routed():
    refuses(loc(path="/.well-known/acme-challenge/x"), "reserved")


def test_location_needs_one_action():
    refuses(loc(upstream=None))
    refuses(loc(redirect="https://b.example.test"))
    refuses(loc(strip_prefix=True, path="^/x", pattern=True), "strip_prefix")
