"""Seed Episode 9: server-wide `Header always set Access-Control-*` lines broke the Ente
apps until they were unset for the Ente API host. museum's own CORS headers must pass."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from stackctl import proxy
from stackctl.recipe import get_recipe
from stackctl.render import stack_vhosts
from stackctl.settings import parse_site, stack_settings
from tests.proxy import proxy_samples as samples

SEED_UNSET = [
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Headers",
    "Access-Control-Allow-Methods",
    "Access-Control-Expose-Headers",
]


def api_config(dialect: str) -> str:
    site = parse_site({})
    recipe = get_recipe("ente")
    settings = stack_settings(site, "ente", recipe.settings, ["ente"])
    hosts = [h for h in stack_vhosts(recipe, site, settings) if h.name == "api"]
    return "\n".join(proxy.render(hosts, dialect, samples.site(), "ente").values())


def test_apache_unsets_what_the_seed_unsets_only_where_the_server_set_it():
    text = api_config("apache")
    for name in SEED_UNSET:
        assert f"Header always unset {name}" in text
        # a plain `Header unset` would strip museum's own answer too
        assert f"Header unset {name}" not in text


def test_iis_removes_the_inherited_custom_headers():
    text = api_config("iis")
    root = ET.fromstring(text.encode())
    removed = [
        r.get("name") for r in root.findall("./system.webServer/httpProtocol/customHeaders/remove")
    ]
    assert removed == SEED_UNSET
    assert "RESPONSE_Access_Control" not in text  # museum's own headers are not rewritten
