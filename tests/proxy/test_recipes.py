"""Every recipe renders in every dialect; Traefik and IIS output is checked structurally here
(neither server runs on this machine), the others by the real servers in tests/proxy_real."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from stackctl import proxy
from tests.proxy import proxy_samples as samples
from tests.proxy.recipe_vhosts import recipe_names, recipe_vhosts

PASSTHROUGH = {"nginx-stream", "haproxy", "traefik"}


@pytest.mark.parametrize("dialect", proxy.DIALECTS)
@pytest.mark.parametrize("recipe", recipe_names())
def test_recipe_renders(recipe, dialect):
    hosts = recipe_vhosts(recipe)
    assert hosts, f"recipe {recipe} has no virtual hosts"
    if dialect not in PASSTHROUGH and any(h.tls == "passthrough" for h in hosts):
        pytest.skip(f"{dialect} cannot pass TLS through")
    files = proxy.render(hosts, dialect, samples.site(acme_upstream="127.0.0.1:8402"), recipe)
    if dialect == "traefik":
        from tests.proxy.test_traefik import validate, yaml

        for text in files.values():
            validate(yaml.safe_load(text))
    if dialect == "iis":
        for text in files.values():
            root = ET.fromstring(text.encode())
            inbound = [r.get("name") for r in root.findall("./system.webServer/rewrite/rules/rule")]
            assert inbound[-1] == "stackctl: paths no route claims"
            assert any(n.startswith("stackctl: ACME") for n in inbound[:2])
