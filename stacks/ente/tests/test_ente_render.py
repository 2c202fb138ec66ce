"""The Ente recipe rendered purely: compose structure, museum.yaml, image overrides."""

import yaml

from stackctl.network import layout
from stackctl.recipe import get_recipe
from stackctl.render import StackInputs, render_stack
from stackctl.settings import parse_site, stack_settings


def render(site_raw=None, stack_raw=None, facts=None):
    raw = dict(site_raw or {})
    raw["stacks"] = {"ente": stack_raw or {}}
    site = parse_site(raw)
    recipe = get_recipe("ente")
    settings = stack_settings(site, "ente", recipe.settings, ["ente"])
    plan = layout("ente.lan", "172.21.0.0/24", recipe.network.fixed_ips, "pool")
    files = render_stack(StackInputs(recipe, site, settings, plan, {}, facts or {}))
    return {f.path: f.content for f in files}


def test_compose_structure_follows_the_seed():
    files = render()
    compose = yaml.safe_load(files["docker-compose.yml"])
    assert compose["name"] == "ente"
    services = compose["services"]
    assert set(services) == {"museum", "socat", "postgres", "minio", "web"}
    museum = services["museum"]
    assert museum["image"] == "ghcr.io/ente/server:0472c929b6070e61fecaf2013d47efce2dcda462"
    assert museum["networks"]["ente.lan"]["ipv4_address"] == "172.21.0.133"
    assert museum["ports"] == ["127.0.0.1:8180:8080"]
    assert services["socat"]["network_mode"] == "service:museum"
    assert services["minio"]["image"] == "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"
    assert services["minio"]["ports"] == [
        "127.0.0.1:3200:3200"
    ]  # the console (3201) is not published
    assert all(p.startswith("127.0.0.1:") for s in services.values() for p in s.get("ports", []))
    assert compose["networks"] == {"ente.lan": {"external": True}}
    assert services["web"]["environment"]["ENTE_API_ORIGIN"] == "https://ente.example.lan"
    assert services["web"]["ports"] == ["127.0.0.1:3322:3003"]


def test_compose_holds_no_secret_values_only_references():
    compose = yaml.safe_load(render()["docker-compose.yml"])
    env = compose["services"]["museum"]["environment"]
    assert env["ENTE_KEY_ENCRYPTION"].startswith("${ENTE_KEY_ENCRYPTION:?")
    assert env["ENTE_S3_WASABI_EU_CENTRAL_2_V3_SECRET"].startswith("${ENTE_MINIO_SECRET:?")


def test_museum_yaml_from_settings_and_facts():
    files = render(
        stack_raw={"hardcoded_otts": ["Me@Home.lan,012345"], "admins": [11]}, facts={"admins": [22]}
    )
    museum = yaml.safe_load(files["museum.yaml"])
    assert museum["internal"]["hardcoded-ott"]["emails"] == ["me@home.lan,012345"]
    assert museum["internal"]["admins"] == [11, 22]
    assert set(museum["s3"]) >= {"b2-eu-cen", "wasabi-eu-central-2-v3", "scw-eu-fr-v3"}
    assert museum["s3"]["are_local_buckets"] is True
    assert museum["db"] == {
        "host": "postgres",
        "port": 5432,
        "name": "ente_db",
        "user": "pguser",
        "sslmode": "disable",
    }
    assert "key" not in museum and "jwt" not in museum


def test_public_s3_endpoint_drops_socat():
    files = render(stack_raw={"s3_hostname": "s3.example.lan", "web_apps": ["photos", "auth"]})
    compose = yaml.safe_load(files["docker-compose.yml"])
    assert "socat" not in compose["services"]
    museum = yaml.safe_load(files["museum.yaml"])
    assert (
        museum["s3"]["are_local_buckets"] is False and museum["s3"]["use_path_style_urls"] is True
    )
    assert museum["s3"]["b2-eu-cen"]["endpoint"] == "s3.example.lan"
    assert compose["services"]["web"]["ports"] == ["127.0.0.1:3310:3000", "127.0.0.1:3322:3003"]


def test_cli_service_only_with_an_image_and_override_map_applies():
    plain = yaml.safe_load(render()["docker-compose.yml"])
    assert "cli" not in plain["services"]
    files = render(
        site_raw={
            "images": {
                "ghcr.io/ente/server": "registry.lan/ente/server",
                "ente-cli": "registry.lan/ente-cli",
            }
        },
        stack_raw={"cli_image": "ente-cli:v1"},
    )
    compose = yaml.safe_load(files["docker-compose.yml"])
    assert (
        compose["services"]["museum"]["image"]
        == "registry.lan/ente/server:0472c929b6070e61fecaf2013d47efce2dcda462"
    )
    assert compose["services"]["cli"]["image"] == "registry.lan/ente-cli:v1"


def test_rendering_writes_nothing_and_follows_its_inputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one = render(stack_raw={"api_port": 8081})
    other = render(stack_raw={"api_port": 8082})
    assert list(tmp_path.iterdir()) == []
    changed = {path for path in one if one[path] != other[path]}
    assert "docker-compose.yml" in changed and "museum.yaml" not in changed
    assert "8082:8080" in other["docker-compose.yml"]


def test_published_ports_follow_the_enabled_apps():
    from stackctl.stack import Stack
    from stackctl.state import State

    recipe = get_recipe("ente")
    site = parse_site({"stacks": {"ente": {"web_apps": ["photos"]}}})
    settings = stack_settings(site, "ente", recipe.settings, ["ente"])
    stack = Stack(recipe, site, settings, State(path=None))  # type: ignore[arg-type]
    assert stack.published_ports() == {"api_port": 8180, "photos_port": 3310, "s3_port": 3200}


def test_images_are_pinned_and_latest_only_when_asked():
    compose = yaml.safe_load(render(stack_raw={"web_apps": ["auth"]})["docker-compose.yml"])
    tags = {name: s["image"].rsplit(":", 1)[1] for name, s in compose["services"].items()}
    # upstream publishes commit tags for museum and web, no releases
    assert tags["museum"] == "0472c929b6070e61fecaf2013d47efce2dcda462"
    assert tags["web"] == "5ab0c5b4c7a89c4e470ef6f793600da33cebf35d"
    assert tags["minio"] == "RELEASE.2025-09-07T16-13-09Z"
    asked = yaml.safe_load(render(stack_raw={"version": "latest"})["docker-compose.yml"])
    assert asked["services"]["museum"]["image"] == "ghcr.io/ente/server:latest"
