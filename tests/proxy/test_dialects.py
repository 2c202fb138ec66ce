"""Every dialect renders the sample vhosts; structure each server relies on is there."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from stackctl import proxy
from stackctl.errors import RecipeError
from stackctl.proxy.model import Location, VirtualHost
from stackctl.settings import parse_site
from tests.proxy import proxy_samples as samples

PASSTHROUGH = {"nginx-stream", "haproxy", "traefik"}


def rendered(dialect: str, **site) -> dict[str, str]:
    hosts = samples.vhosts()
    if dialect not in PASSTHROUGH:
        hosts = samples.terminating(hosts)
    return proxy.render(hosts, dialect, samples.site(**site), "demo")


@pytest.mark.parametrize("dialect", proxy.DIALECTS)
def test_every_dialect_renders_and_is_deterministic(dialect):
    first = rendered(dialect)
    assert first == rendered(dialect)
    assert all(text.endswith("\n") and "\t\n" not in text for text in first.values())
    places = proxy.destinations(dialect, "demo", list(first))
    assert set(places) == set(first)
    assert proxy.needs(dialect, samples.terminating(samples.vhosts()), "demo")


@pytest.mark.parametrize("dialect", ["nginx", "apache", "caddy", "iis"])
def test_dialects_without_passthrough_refuse_it(dialect):
    with pytest.raises(RecipeError, match="passthrough"):
        proxy.render(samples.vhosts(), dialect, samples.site(), "demo")


def test_install_paths():
    assert proxy.install_path("apache", "ente") == Path(
        "/etc/apache2/sites-available/stackctl-ente.conf"
    )
    assert proxy.install_path("nginx", "ente") == Path(
        "/etc/nginx/sites-available/stackctl-ente.conf"
    )
    assert proxy.install_path("nginx-stream", "ente") == Path(
        "/etc/nginx/stream.d/stackctl-ente.conf"
    )
    assert proxy.install_path("caddy", "ente") == Path("/etc/caddy/sites/stackctl-ente.caddy")
    assert proxy.install_path("haproxy", "ente") == Path("/etc/haproxy/conf.d/stackctl-ente.cfg")
    assert proxy.install_path("traefik", "ente") == Path("/etc/traefik/dynamic/stackctl-ente.yml")
    assert not proxy.install_path("iis", "ente").is_absolute()
    with pytest.raises(RecipeError, match="unknown proxy dialect"):
        proxy.install_path("lighttpd", "ente")


def test_apache_needs_the_modules():
    needs = proxy.needs("apache", samples.terminating(samples.vhosts()), "ente")
    assert needs[0] == "a2enmod proxy proxy_http proxy_wstunnel headers ssl remoteip rewrite alias"
    assert "a2ensite stackctl-ente" in needs


def test_stream_needs_say_where_to_include():
    needs = proxy.needs("nginx-stream", samples.vhosts(), "ente")
    assert any("stream { include /etc/nginx/stream.d/*.conf; }" in line for line in needs)


def test_site_from_settings_uses_the_certificate_layout():
    site = parse_site({"tls": {"layout": "dehydrated", "acme_webroot": "/srv/acme"}})
    proxy_site = proxy.site_from(site)
    assert proxy_site.acme_webroot == "/srv/acme"
    assert proxy_site.certificate("a.lan") == (
        "/etc/dehydrated/certs/a.lan/fullchain.pem",
        "/etc/dehydrated/certs/a.lan/privkey.pem",
    )
    text = proxy.render(samples.terminating(samples.vhosts()), "nginx", proxy_site, "x")
    assert (
        '"/etc/dehydrated/certs/social.example.test/fullchain.pem"' in text["nginx/stackctl-x.conf"]
    )


# --- nginx ------------------------------------------------------------------------------------


def _blocks(text: str, opener: str) -> list[str]:
    """Bodies of `opener ... { ... }` blocks (one nesting level is enough here)."""
    out = []
    for match in re.finditer(re.escape(opener), text):
        start = text.index("{", match.start())
        depth, i = 0, start
        while True:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                break
            i += 1
        out.append(text[start + 1 : i])
    return out


def test_nginx_shared_map_lives_only_in_the_common_file():
    files = rendered("nginx")
    assert "map $http_upgrade $stackctl_connection_upgrade" in files["nginx/stackctl-common.conf"]
    assert "map " not in files["nginx/stackctl-demo.conf"]
    other = proxy.render(samples.terminating(samples.vhosts()), "nginx", samples.site(), "other")
    assert other["nginx/stackctl-common.conf"] == files["nginx/stackctl-common.conf"]


def test_nginx_locations_forward_client_facts_and_upgrade_only_websockets():
    text = rendered("nginx")["nginx/stackctl-demo.conf"]
    proxied = [b for b in _blocks(text, "location ~") if "proxy_pass" in b]
    assert len(proxied) >= 12
    for body in proxied:
        for header in (
            "Host $host",
            "X-Real-IP $remote_addr",
            "X-Forwarded-Proto",
            "X-Forwarded-For $proxy_add_x_forwarded_for",
            "X-Forwarded-Port",
        ):
            assert f"proxy_set_header {header}" in body
        upgrade = "Upgrade $http_upgrade" in body
        assert upgrade == ("$stackctl_connection_upgrade" in body)
    assert sum("Upgrade $http_upgrade" in b for b in proxied) == 6


def test_nginx_acme_is_served_on_both_ports_and_http_redirects():
    text = rendered("nginx")["nginx/stackctl-demo.conf"]
    servers = _blocks(text, "server {")
    tls = [s for s in servers if "ssl_certificate" in s]
    plain = [s for s in servers if "ssl_certificate" not in s]
    assert len(tls) == 6 and len(plain) == 7
    for server in servers:
        assert (
            'location ^~ /.well-known/acme-challenge/ {\n        alias "/var/www/acme/";' in server
        )
    for server in tls:
        assert server.count("add_header Strict-Transport-Security") >= 1 or "meet." in server
    assert text.count("return 301 https://$host$request_uri;") == 6


def test_nginx_stream_front_map_defaults_to_local_tls():
    files = rendered("nginx-stream", stream_backend_port=1443)
    front = files["nginx-stream/stackctl-stream.conf"]
    assert "include /etc/nginx/stream.d/stackctl-*.map;" in front
    assert "default 127.0.0.1:1443;" in front and "ssl_preread on;" in front
    assert (
        "pbx.example.test unix:/run/stackctl/sni-demo_pbx.sock;"
        in files["nginx-stream/stackctl-demo.map"]
    )
    http = files["nginx/stackctl-demo.conf"]
    assert "listen 127.0.0.1:1443 ssl proxy_protocol;" in http
    assert "listen 443" not in http
    # The passthrough backend answers its own ACME challenges on port 80.
    assert "proxy_pass http://127.0.0.1:8088;" in http


# --- Apache -----------------------------------------------------------------------------------


def test_apache_rules_in_order_and_encoded_slashes():
    text = rendered("apache")["apache/stackctl-demo.conf"]
    office = text[text.index("--- office") : text.index("--- media")]
    tls = office[office.index(":443>") :]
    matches = re.findall(r'ProxyPassMatch "([^"]+)"', tls)
    assert "/cool/(.*)/ws$" in matches[0] and "/cool/ws" in matches[1]
    assert "AllowEncodedSlashes NoDecode" in tls
    assert tls.count("nocanon") == 3
    assert tls.count("upgrade=websocket") == 3
    assert "ProxyPass /.well-known/acme-challenge/ !" in tls


def test_apache_headers_and_unset():
    text = rendered("apache")["apache/stackctl-demo.conf"]
    assert (
        "Header unset Access-Control-Max-Age\n        Header always unset Access-Control-Max-Age"
        in text
    )
    assert 'RequestHeader set X-Real-IP "expr=%{REMOTE_ADDR}"' in text
    assert 'RequestHeader set X-Forwarded-Proto "https"' in text


# --- HAProxy ----------------------------------------------------------------------------------


def test_haproxy_common_front_and_backend_per_name():
    files = rendered("haproxy")
    common = files["haproxy/00-stackctl-common.cfg"]
    assert "use_backend stackctl_sni_%[req.ssl_sni,lower]" in common
    assert "ssl crt /etc/haproxy/certs/" in common
    stack = files["haproxy/stackctl-demo.cfg"]
    assert "backend stackctl_social.example.test from stackctl" in stack
    assert "backend stackctl_www.social.example.test from stackctl" in stack
    assert "backend stackctl_sni_pbx.example.test from stackctl" in stack
    assert "path,url_dec -m reg '^/cool/(.*)/ws$'" in stack


def test_haproxy_refuses_disk_only_static():
    host = VirtualHost("web", "a.example.test", locations=(Location("/s", static_root="/srv"),))
    with pytest.raises(RecipeError, match="cannot do"):
        proxy.render([host], "haproxy", samples.site(), "demo")
    assert proxy.render([host], "nginx", samples.site(), "demo")


# --- IIS --------------------------------------------------------------------------------------


def test_iis_web_config_is_xml_with_the_seed_rule_order():
    files = rendered("iis")
    assert len(files) == 7  # one site per host name
    root = ET.fromstring(files["iis/social.example.test/web.config"].encode())
    rules = root.findall("./system.webServer/rewrite/rules/rule")
    names = [r.get("name") for r in rules]
    assert names[0] == "stackctl: HTTP to HTTPS"
    assert names[1].startswith("stackctl: ACME")
    assert [n.split("(")[-1] for n in names[2:5]] == ["static)", "websocket)", "proxy)"]
    assert names[-1] == "stackctl: paths no route claims"
    assert all(r.get("stopProcessing") == "true" for r in rules)
    websocket = rules[3]
    variables = {s.get("name"): s.get("value") for s in websocket.iter("set")}
    assert variables["HTTP_SEC_WEBSOCKET_EXTENSIONS"] == ""
    assert variables["HTTP_X_FORWARDED_FOR"] == "{REMOTE_ADDR}"
    assert variables["HTTP_X_REAL_IP"] == "{REMOTE_ADDR}"
    assert variables["HTTP_X_FORWARDED_PROTO"] == "https"
    redirect = rules[0].find("action")
    assert redirect.get("url") == "https://{SERVER_NAME}{UNENCODED_URL}"


def test_iis_local_domain_redirects_and_unset_headers():
    files = rendered("iis")
    local = ET.fromstring(files["iis/example.test/web.config"].encode())
    actions = [r.find("action") for r in local.findall("./system.webServer/rewrite/rules/rule")]
    redirects = [a.get("url") for a in actions if a.get("type") == "Redirect"]
    assert "https://social.example.test{UNENCODED_URL}" in redirects
    api = ET.fromstring(files["iis/ente-api.example.test/web.config"].encode())
    outbound = api.findall("./system.webServer/rewrite/outboundRules/rule")
    unset = {r.find("match").get("serverVariable"): r.find("action").get("value") for r in outbound}
    assert unset["RESPONSE_Access_Control_Max_Age"] == ""
    limits = api.find("./system.webServer/security/requestFiltering/requestLimits")
    assert limits.get("maxAllowedContentLength") == str(4 << 20)


def test_iis_needs_list_every_server_variable_it_sets():
    hosts = samples.terminating(samples.vhosts())
    needs = "\n".join(proxy.needs("iis", hosts, "demo"))
    for text in rendered("iis").values():
        for name in re.findall(r'<set name="([A-Z_]+)"', text):
            assert f"[name='{name}']" in needs
