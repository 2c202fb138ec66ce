"""The Jellyfin recipe rendered purely, and the first-run client's pure parts."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from stackctl.errors import SettingsError, StackctlError
from stackctl.network import layout
from stackctl.paths import stacks_dir
from stackctl.recipe import get_recipe
from stackctl.recipe_module import load
from stackctl.render import StackInputs, render_stack, stack_vhosts
from stackctl.settings import parse_site, stack_settings
from stackctl.stack import Stack
from stackctl.state import State

RECIPES = ["ente", "jellyfin", "collabora"]
steps = load(stacks_dir() / "jellyfin")  # the recipe's own kinds (stacks/jellyfin/kinds.py)


def make(site_raw=None, stack_raw=None):
    raw = dict(site_raw or {})
    raw["stacks"] = {"jellyfin": stack_raw or {}}
    site = parse_site(raw)
    recipe = get_recipe("jellyfin")
    settings = stack_settings(site, "jellyfin", recipe.settings, RECIPES)
    return recipe, site, settings


def render(site_raw=None, stack_raw=None):
    recipe, site, settings = make(site_raw, stack_raw)
    plan = layout("jellyfin.lan", "172.21.4.0/24", recipe.network.fixed_ips, "pool")
    files = render_stack(StackInputs(recipe, site, settings, plan, {}, {}))
    return {f.path: f.content for f in files}


def compose(site_raw=None, stack_raw=None):
    return yaml.safe_load(render(site_raw, stack_raw)["docker-compose.yml"])


def stack(tmp_path, site_raw=None, stack_raw=None) -> Stack:
    recipe, site, settings = make(site_raw, stack_raw)
    return Stack(recipe, site, settings, State(tmp_path / "state.json"))


def test_compose_follows_the_seed_with_safe_defaults():
    model = compose()
    assert model["name"] == "jellyfin"
    server = model["services"]["server"]
    assert server["container_name"] == "jellyfin-server"
    assert server["image"] == "jellyfin/jellyfin:10.11"  # the 10.11 line, never latest
    assert server["user"] == "990:990"
    assert server["ports"] == ["127.0.0.1:8096:8096"]
    assert server["networks"] == ["jellyfin.lan"]
    assert server["deploy"]["resources"]["limits"] == {"cpus": "2", "memory": "4g"}
    assert server["environment"] == {"JELLYFIN_PublishedServerUrl": "https://jellyfin.example.lan"}
    assert server["volumes"][:3] == [
        "/etc/localtime:/etc/localtime:ro",
        "/opt/dockerfiles/jellyfin/config:/config",
        "/opt/dockerfiles/jellyfin/cache:/cache",
    ]
    assert "network_mode" not in server and "devices" not in server
    assert model["networks"] == {"jellyfin.lan": {"external": True}}


def test_health_check_waits_for_healthy_not_degraded():
    check = compose()["services"]["server"]["healthcheck"]
    assert check["test"][0] == "CMD-SHELL"
    assert check["test"][1] == (
        "curl --noproxy localhost -fsS http://localhost:8096/health | grep -qx Healthy"
    )
    assert check["start_interval"] == "2s"
    based = compose(stack_raw={"base_url": "/jellyfin/"})["services"]["server"]["healthcheck"]
    # before the first restart the base URL is not in effect yet: both are accepted
    assert "http://localhost:8096/jellyfin/health | grep -qx Healthy ||" in based["test"][1]
    assert based["test"][1].endswith("http://localhost:8096/health | grep -qx Healthy")


def test_libraries_are_mounted_read_only_under_media():
    libraries = [
        {"name": "Movies", "type": "movies", "path": "/data/video"},
        {"name": "Music Audio", "type": "music", "paths": ["/data/mp3", "/data/flac"]},
    ]
    recipe, site, settings = make(stack_raw={"libraries": libraries})
    assert [lib["mounts"] for lib in settings["libraries"]] == [
        ["/media/movies"],
        ["/media/music-audio", "/media/music-audio-2"],
    ]
    server = compose(stack_raw={"libraries": libraries})["services"]["server"]
    binds = [v for v in server["volumes"] if isinstance(v, dict)]
    assert binds == [
        {"type": "bind", "source": "/data/video", "target": "/media/movies", "read_only": True},
        {"type": "bind", "source": "/data/mp3", "target": "/media/music-audio", "read_only": True},
        {
            "type": "bind",
            "source": "/data/flac",
            "target": "/media/music-audio-2",
            "read_only": True,
        },
    ]


@pytest.mark.parametrize(
    ("libraries", "problem"),
    [
        ([{"name": "Movies", "type": "films", "path": "/v"}], "has type 'films'"),
        ([{"name": "Movies", "type": "movies", "path": "relative"}], "not an absolute path"),
        (
            [
                {"name": "A", "type": "movies", "path": "/a"},
                {"name": "a", "type": "music", "path": "/b"},
            ],
            "listed twice",
        ),
        ([{"name": "M;rm", "type": "movies", "path": "/a"}], "is not allowed"),
        ([{"name": "M", "type": "movies"}], "needs `path`"),
        ([{"name": "M", "type": "movies", "path": "/a", "folder": "/b"}], "not a library table"),
    ],
)
def test_bad_libraries_are_refused_with_the_reason(libraries, problem):
    with pytest.raises(SettingsError, match="stacks.jellyfin.libraries") as caught:
        make(stack_raw={"libraries": libraries})
    assert problem in caught.value.message


def test_host_network_for_dlna(tmp_path):
    server = compose(stack_raw={"network_mode": "host"})["services"]["server"]
    assert server["network_mode"] == "host"
    assert "ports" not in server and "networks" not in server
    assert "networks" not in compose(stack_raw={"network_mode": "host"})
    # nothing is published, so nothing is checked for a free port; the proxy goes to 8096
    assert stack(tmp_path, stack_raw={"network_mode": "host"}).published_ports() == {}
    assert stack(tmp_path).published_ports() == {"http_port": 8096}
    recipe, site, settings = make(stack_raw={"network_mode": "host", "http_port": 9000})
    (vhost,) = stack_vhosts(recipe, site, settings)
    assert {loc.upstream for loc in vhost.locations} == {"127.0.0.1:8096"}
    with pytest.raises(SettingsError, match="network_mode"):
        make(stack_raw={"network_mode": "macvlan"})


def test_limits_devices_groups_and_image_override():
    model = compose(
        site_raw={"images": {"jellyfin/jellyfin": "registry.lan/jellyfin"}},
        stack_raw={
            "cpus": "",
            "memory": "3g",
            "devices": ["/dev/dri/renderD128"],
            "group_add": [105],
            "version": "10.11.11",
            "uid": 1500,
            "gid": 1501,
        },
    )
    server = model["services"]["server"]
    assert server["image"] == "registry.lan/jellyfin:10.11.11"
    assert server["deploy"]["resources"]["limits"] == {"memory": "3g"}
    assert server["devices"] == ["/dev/dri/renderD128:/dev/dri/renderD128"]
    assert server["group_add"] == ["105"]
    assert server["user"] == "1500:1501"
    assert "deploy" not in compose(stack_raw={"cpus": "", "memory": ""})["services"]["server"]


def test_routes_socket_first_then_everything():
    recipe, site, settings = make()
    (vhost,) = stack_vhosts(recipe, site, settings)
    assert vhost.hostname == "jellyfin.example.lan" and vhost.max_body == "20m"
    assert [(loc.path, loc.websocket, loc.upstream) for loc in vhost.locations] == [
        ("/socket", True, "127.0.0.1:8096"),
        ("/", False, "127.0.0.1:8096"),
    ]


def test_routes_under_a_base_url():
    recipe, site, settings = make(stack_raw={"base_url": "/jellyfin", "http_port": 8097})
    (vhost,) = stack_vhosts(recipe, site, settings)
    routes = [
        (loc.path, loc.pattern, loc.websocket, loc.upstream, loc.redirect)
        for loc in vhost.locations
    ]
    assert routes == [
        ("/jellyfin/socket", False, True, "127.0.0.1:8097", None),
        ("^/jellyfin(/.*)?$", True, False, "127.0.0.1:8097", None),
        ("/", False, False, None, "https://jellyfin.example.lan/jellyfin"),
    ]
    assert not any(loc.strip_prefix for loc in vhost.locations)  # Jellyfin wants the full path
    files = render(stack_raw={"base_url": "/jellyfin"})
    env = yaml.safe_load(files["docker-compose.yml"])["services"]["server"]["environment"]
    assert env["JELLYFIN_PublishedServerUrl"] == "https://jellyfin.example.lan/jellyfin"


def test_every_dialect_renders_the_routes():
    for dialect in ("apache", "nginx", "caddy", "haproxy", "traefik", "iis"):
        files = render(site_raw={"proxy": dialect}, stack_raw={"base_url": "/jellyfin"})
        assert any(name.startswith("proxy/") for name in files), dialect


def test_the_authorization_header_is_the_form_12_0_keeps():
    api = steps.JellyfinApi("http://127.0.0.1:8096", "", "stackctl-jellyfin")
    anonymous = api.authorization()
    assert anonymous.startswith('MediaBrowser Client="stackctl", Device="stackctl"')
    assert 'DeviceId="stackctl-jellyfin"' in anonymous and "Version=" in anonymous
    assert "Token" not in anonymous
    assert api.with_token("abc").authorization().startswith('MediaBrowser Token="abc", Client=')
    assert "abc" not in repr(api.with_token("abc"))


def test_base_urls_are_normalised_like_jellyfin_does():
    assert steps.normal_base(None) == "" and steps.normal_base("/") == ""
    assert steps.normal_base("jellyfin/") == "/jellyfin"
    assert steps.normal_base("/media/jf") == "/media/jf"


class _Starting(BaseHTTPRequestHandler):
    started = 0.0

    def do_GET(self):
        body = b"Healthy" if time.monotonic() - self.started > 0.6 else b"Degraded"
        if self.path != "/health":
            body = b""
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_degraded_is_not_healthy():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Starting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = steps.JellyfinApi(f"http://127.0.0.1:{server.server_port}", "", "t")
        # one clock reading for both: a slow server start must not eat into the 0.5 s below
        began = _Starting.started = time.monotonic()
        # /jellyfin/health is 404 here: the base URL is not in effect, the root answers
        assert steps.wait_healthy(api, ["/jellyfin", ""], seconds=10) == ""
        assert time.monotonic() - began >= 0.5  # it waited through "Degraded"
        _Starting.started = time.monotonic() + 3600
        with pytest.raises(StackctlError, match="not Healthy after 1s .*'Degraded'"):
            steps.wait_healthy(api, [""], seconds=1)
    finally:
        server.shutdown()


def test_sso_provider_and_keycloak_client(tmp_path):
    site = {"sso": {"enabled": True, "issuer": "https://sso.example.lan/realms/foundation"}}
    s = stack(tmp_path, site, {"base_url": "/jf", "sso_admin_roles": ["media-admins"]})
    config = steps.provider_config(s, "client-secret")
    assert config["oidEndpoint"] == "https://sso.example.lan/realms/foundation"
    assert (config["oidClientId"], config["oidSecret"]) == ("jellyfin", "client-secret")
    assert config["roles"] == ["jellyfin-users"] and config["adminRoles"] == ["media-admins"]
    assert config["roleClaim"] == "realm_access.roles" and config["schemeOverride"] == "https"
    rows = dict(steps.keycloak_client(s))
    assert (
        rows["Valid redirect URIs"] == "https://jellyfin.example.lan/jf/sso/OID/redirect/keycloak"
    )
    assert rows["Web origins"] == "https://jellyfin.example.lan/jf"
    assert 'action="https://jellyfin.example.lan/jf/sso/OID/start/keycloak"' in steps.login_button(
        s.settings
    )
    # Jellyfin answers in PascalCase; an unchanged provider is recognised as such
    pascal = {k[0].upper() + k[1:]: v for k, v in config.items()}
    assert steps._same(pascal, config)
    assert not steps._same({**pascal, "OidSecret": "old"}, config)
    assert not steps._same(None, config)
    # a field this plugin version does not report cannot differ
    older = {k: v for k, v in pascal.items() if k != "DefaultUsernameClaim"}
    assert steps._same(older, config)


def test_known_proxies_come_from_the_network(tmp_path):
    from stackctl.steps import StepContext

    plan = layout("jellyfin.lan", "172.21.4.0/24", {}, "pool")
    ctx = StepContext(
        stack(tmp_path, stack_raw={"known_proxies": ["192.168.1.10"]}), None, plan, {}
    )
    assert steps.known_proxies(ctx) == ["172.21.4.1", "192.168.1.10"]
    ctx = StepContext(stack(tmp_path, stack_raw={"network_mode": "host"}), None, plan, {})
    assert steps.known_proxies(ctx) == ["127.0.0.1"]
    ctx = StepContext(stack(tmp_path, stack_raw={"known_proxies": ["proxy.lan"]}), None, plan, {})
    with pytest.raises(StackctlError, match="not an address or subnet"):
        steps.known_proxies(ctx)


def test_memory_default_leaves_room_for_the_database_cache_and_ffmpeg():
    recipe = get_recipe("jellyfin")
    memory = next(f for f in recipe.settings if f.name == "memory")
    assert memory.default == "4g"
    assert "ffmpeg" in memory.help and "1g" in memory.help  # the reason, shown by `recipes show`


@pytest.mark.parametrize(
    ("mode", "runtime", "reserved"),
    [("off", None, False), ("runtime", "nvidia", False), ("reservation", None, True)],
)
def test_nvidia_transcoding_by_runtime_or_reservation(mode, runtime, reserved):
    server = compose(stack_raw={"nvidia": mode})["services"]["server"]
    assert server.get("runtime") == runtime
    reservations = server["deploy"]["resources"].get("reservations")
    if reserved:
        assert reservations["devices"] == [
            {"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}
        ]
    else:
        assert reservations is None
    assert ("NVIDIA_DRIVER_CAPABILITIES" in server["environment"]) == (mode != "off")


def test_udp_discovery_is_published_only_when_asked():
    assert compose()["services"]["server"]["ports"] == ["127.0.0.1:8096:8096"]
    ports = compose(stack_raw={"publish_discovery": True, "bind_address": "192.168.1.5"})[
        "services"
    ]["server"]["ports"]
    assert ports == ["192.168.1.5:8096:8096", "192.168.1.5:7359:7359/udp"]


def test_nginx_streams_jellyfin_unbuffered():
    from stackctl import proxy
    from tests.proxy import proxy_samples as samples

    recipe, site, settings = make()
    text = proxy.render(stack_vhosts(recipe, site, settings), "nginx", samples.site(), "jellyfin")
    conf = "\n".join(text.values())
    root = conf[conf.index('location ~ "^/" {') :]
    assert "proxy_pass" in root[: root.index("}")]
    assert "proxy_buffering off;" in root[: root.index("}")]
