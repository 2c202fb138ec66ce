"""Engine names come from stackctl.names: seed names by default, a site prefix in front of all."""

import pytest
import yaml

from stackctl.errors import SettingsError
from stackctl.hostglue import snippets
from stackctl.names import LABEL_PREFIX, LABEL_STACK, stack_names
from stackctl.network import layout
from stackctl.recipe import all_recipes, get_recipe
from stackctl.render import StackInputs, render_stack
from stackctl.settings import parse_site, stack_settings


def rendered(stack: str, site_raw: dict) -> dict[str, str]:
    site = parse_site(site_raw)
    recipe = get_recipe(stack)
    settings = stack_settings(site, stack, recipe.settings, list(all_recipes()))
    plan = layout(site.names(stack).network, "172.21.0.0/24", recipe.network.fixed_ips, "pool")
    return {
        f.path: f.content for f in render_stack(StackInputs(recipe, site, settings, plan, {}, {}))
    }


def test_defaults_are_the_seed_names():
    names = stack_names("ente")
    assert (names.project, names.container("museum"), names.network) == (
        "ente",
        "ente-museum",
        "ente.lan",
    )
    assert names.labels == {LABEL_STACK: "ente", LABEL_PREFIX: ""}


@pytest.mark.parametrize("stack", sorted(all_recipes()))
def test_a_site_prefix_reaches_every_engine_name_in_the_compose_file(stack):
    compose = yaml.safe_load(rendered(stack, {"name_prefix": "t9-"})["docker-compose.yml"])
    assert compose["name"] == f"t9-{stack}"
    # compose names the networks it creates <project>_<key>; stackctl's own is external
    external = {k for k, v in compose["networks"].items() if v.get("external")}
    assert external == {f"t9-{stack}.lan"}
    for service, spec in compose["services"].items():
        if "container_name" in spec:
            assert spec["container_name"] == f"t9-{stack}-{service}"
        networks = spec.get("networks") or {}
        if isinstance(networks, dict):
            aliases = [a for n in networks.values() if n for a in n.get("aliases", ())]
            assert all(a.startswith(f"t9-{stack}-") for a in aliases), aliases


def test_no_seed_name_is_left_in_a_prefixed_render():
    files = rendered("ente", {"name_prefix": "t9-"})
    assert "ente-museum" not in files["docker-compose.yml"].replace("t9-ente-museum", "")
    assert "http://t9-ente-museum.t9-ente.lan:8080" in files["cli-config.yaml"]


def test_host_snippets_name_the_prefixed_containers():
    text = snippets(
        "t9-ente.lan", "172.21.0.0/24", "172.21.0.1", {"museum": "172.21.0.5"}, "ente", prefix="t9-"
    )
    assert "t9-ente-museum t9-ente-museum.t9-ente.lan" in text


@pytest.mark.parametrize("prefix", ["Upper-", "-lead", "a b", "x" * 31, "ä-", 3])
def test_a_prefix_that_cannot_start_a_container_name_is_refused(prefix):
    with pytest.raises(SettingsError, match="name_prefix"):
        parse_site({"name_prefix": prefix})
