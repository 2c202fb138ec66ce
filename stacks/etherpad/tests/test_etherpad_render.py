"""The Etherpad + WBO recipe rendered purely: environment names, layouts, the proxy routes in
every dialect, the steps that exist per database, and the recipe's own actions."""

from __future__ import annotations

import json

import pytest
import yaml

from stackctl import proxy
from stackctl.bootstrap import active_steps
from stackctl.engine_fake import FakeEngine
from stackctl.errors import StackctlError
from stackctl.network import layout
from stackctl.paths import stacks_dir
from stackctl.recipe import get_recipe
from stackctl.recipe_module import load
from stackctl.render import StackInputs, base_context, render_stack, stack_vhosts
from stackctl.secret_files import check as check_secret_file
from stackctl.settings import parse_site, stack_settings
from stackctl.stack import Stack
from stackctl.state import State
from stackctl.steps import action_runner

kinds = load(stacks_dir() / "etherpad")  # the recipe's own kinds (stacks/etherpad/kinds.py)

SSO = {"enabled": True, "issuer": "https://sso.example.lan/realms/home"}
# Every variable Etherpad's settings.json.docker reads that this recipe sets: the names are in
# both 2.5.3 (tested) and 3.3.1 (pinned) (docs/recipes/etherpad.md); EP__ names are plugin
# settings. OIDC_* and WBO_HOST exist only in the seed's edited settings file.
ETHERPAD_NAMES = {
    "NODE_ENV",
    "TITLE",
    "TRUST_PROXY",
    "ADMIN_PASSWORD",
    "AUTHENTICATION_METHOD",
    "SSO_ISSUER",
    "ADMIN_SECRET",
    "ADMIN_REDIRECT",
    "USER_SECRET",
    "USER_REDIRECT",
    "DB_TYPE",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_PASS",
    "DB_CHARSET",
    "REQUIRE_AUTHENTICATION",
}
WBO_NAMES = {"WBO_BASE_PATH", "WBO_IP_SOURCE", "WBO_TRUST_PROXY_HOPS"}


def make(stack_raw=None, sso=True):
    raw = {"domain": "example.lan", "stacks": {"etherpad": stack_raw or {}}}
    if sso:
        raw["sso"] = SSO
    site = parse_site(raw)
    recipe = get_recipe("etherpad")
    return recipe, site, stack_settings(site, "etherpad", recipe.settings, ["etherpad"])


def render(stack_raw=None, sso=True):
    recipe, site, settings = make(stack_raw, sso)
    plan = layout("etherpad.lan", "172.21.9.0/24", recipe.network.fixed_ips, "pool")
    files = render_stack(StackInputs(recipe, site, settings, plan, {}, {}))
    return {f.path: f.content for f in files}


def compose(stack_raw=None, sso=True):
    return yaml.safe_load(render(stack_raw, sso)["docker-compose.yml"])["services"]


def test_defaults_are_the_seed_layout_on_postgres_with_pinned_images():
    services = compose()
    assert sorted(services) == ["db", "etherpad", "wbo"]
    pad, wbo, db = services["etherpad"], services["wbo"], services["db"]
    assert pad["image"] == "etherpad/etherpad:3.3.1"
    assert wbo["image"] == "lovasoa/wbo:v2.17.0"
    assert db["image"] == "postgres:15-alpine"
    assert (pad["user"], wbo["user"]) == ("5001:0", "1000:1000")
    assert pad["ports"] == ["127.0.0.1:9001:9001"] and wbo["ports"] == ["127.0.0.1:5001:80"]
    assert pad["depends_on"] == {"db": {"condition": "service_healthy"}}
    # the image's own test is kept (no `test` here), with time for a cold start
    assert pad["healthcheck"] == {"start_period": "180s", "start_interval": "2s"}
    env = pad["environment"]
    assert (env["DB_TYPE"], env["DB_HOST"], env["DB_PORT"]) == ("postgres", "db", "5432")
    assert env["DB_PASS"].startswith("${DB_PASS:?")
    assert db["environment"]["POSTGRES_PASSWORD"].startswith("${DB_PASS:?")
    assert env["TRUST_PROXY"] == "true"
    assert env["AUTHENTICATION_METHOD"] == "sso"  # production: API tokens, no key file
    assert env["SSO_ISSUER"] == "https://meet.example.lan/pad"
    assert env["EP__ep_whiteboard__wboUrl"] == "https://meet.example.lan/whitepad"
    assert wbo["environment"]["WBO_BASE_PATH"] == "/whitepad"
    # var/ and the plugins persist; nothing of the dirty file DB anywhere
    assert pad["volumes"] == [
        "etherpad-var:/opt/etherpad-lite/var",
        "etherpad-plugins:/opt/etherpad-lite/src/plugin_packages",
    ]
    assert wbo["volumes"] == ["/opt/dockerfiles/etherpad/wbo:/opt/app/server-data"]
    assert "dirty" not in render()["docker-compose.yml"]


def test_every_environment_name_is_one_the_images_read():
    for variant in ({}, {"database": "mariadb", "api_auth": "apikey"}, {"layout": "hosts"}):
        services = compose(variant)
        pad = set(services["etherpad"]["environment"])
        assert pad - ETHERPAD_NAMES == {n for n in pad if n.startswith("EP__")}, variant
        assert set(services["wbo"]["environment"]) <= WBO_NAMES
    text = render()["docker-compose.yml"]
    assert "OIDC_ISSUER" not in text and "WBO_HOST" not in text


def test_sso_configures_ep_openid_connect_only_when_the_site_has_sso():
    env = compose()["etherpad"]["environment"]
    assert env["REQUIRE_AUTHENTICATION"] == "true"
    assert env["EP__ep_openid_connect__issuer"] == SSO["issuer"]
    assert env["EP__ep_openid_connect__client_id"] == "etherpad"
    assert env["EP__ep_openid_connect__client_secret"].startswith("${OIDC_CLIENT_SECRET:?")
    assert env["EP__ep_openid_connect__base_url"] == "https://meet.example.lan/pad"
    for off in (compose(sso=False), compose({"sso": False})):
        env = off["etherpad"]["environment"]
        assert not [n for n in env if "openid" in n] and "REQUIRE_AUTHENTICATION" not in env


def test_mariadb_gets_its_own_service_and_the_database_step():
    services = compose({"database": "mariadb"})
    assert sorted(services) == ["etherpad", "mariadb", "wbo"]
    maria = services["mariadb"]
    assert maria["image"] == "mariadb:10.11"
    assert maria["environment"]["MARIADB_ROOT_HOST"] == "localhost"
    assert "--collation-server=utf8mb4_bin" in maria["command"]
    env = services["etherpad"]["environment"]
    assert (env["DB_TYPE"], env["DB_HOST"], env["DB_CHARSET"]) == ("mysql", "mariadb", "utf8mb4")
    recipe, site, settings = make({"database": "mariadb"})
    steps = {s.id: s for s in active_steps(recipe, base_context(recipe, site, settings))}
    step = steps["mariadb-database"]
    assert step.options["start"] == ["mariadb"] and step.phase == "before-up"
    assert step.options["grants"] == ["CREATE", "ALTER", "SELECT", "INSERT", "UPDATE", "DELETE"]
    assert step.options["collation"] == "utf8mb4_bin"
    recipe, site, settings = make()
    assert "mariadb-database" not in {
        s.id for s in active_steps(recipe, base_context(recipe, site, settings))
    }


def test_apikey_mode_mounts_the_key_file_over_the_one_etherpad_makes():
    pad = compose({"api_auth": "apikey"})["etherpad"]
    assert pad["environment"]["AUTHENTICATION_METHOD"] == "apikey"
    assert "./APIKEY.txt:/opt/etherpad-lite/APIKEY.txt:ro" in pad["volumes"]
    recipe = get_recipe("etherpad")
    spec = recipe.secret_file("APIKEY")
    assert (spec.uid, spec.gid, spec.mode) == (5001, 0, 0o400)
    generated = kinds._apikey(spec)
    assert len(generated) == 48 and generated.isalnum()  # no newline: compared whole
    assert check_secret_file(spec, generated) is None
    assert check_secret_file(spec, generated + b"\n") is not None


def test_whiteboard_off_removes_service_route_and_plugin_setting():
    services = compose({"whiteboard": False})
    assert "wbo" not in services
    assert "EP__ep_whiteboard__wboUrl" not in services["etherpad"]["environment"]
    recipe, site, settings = make({"whiteboard": False})
    (vhost,) = stack_vhosts(recipe, site, settings)
    assert [loc.path for loc in vhost.locations] == ["/pad/"]
    assert "wbo-answers" not in {
        s.id for s in active_steps(recipe, base_context(recipe, site, settings))
    }


def test_host_layout_gives_each_app_its_own_name_without_prefixes():
    services = compose({"layout": "hosts"})
    assert "WBO_BASE_PATH" not in services["wbo"]["environment"]
    env = services["etherpad"]["environment"]
    assert env["EP__ep_whiteboard__wboUrl"] == "https://whiteboard.example.lan"
    assert env["SSO_ISSUER"] == "https://meet.example.lan"
    recipe, site, settings = make({"layout": "hosts"})
    hosts = {v.name: v for v in stack_vhosts(recipe, site, settings)}
    assert {n: v.hostname for n, v in hosts.items()} == {
        "pad": "meet.example.lan",
        "whiteboard": "whiteboard.example.lan",
    }
    assert all(not loc.strip_prefix for v in hosts.values() for loc in v.locations)


def test_path_layout_routes():
    recipe, site, settings = make()
    (vhost,) = stack_vhosts(recipe, site, settings)
    assert vhost.hostname == "meet.example.lan"
    pad, wbo = vhost.locations
    assert (pad.path, pad.upstream, wbo.path, wbo.upstream) == (
        "/pad/",
        "127.0.0.1:9001",
        "/whitepad/",
        "127.0.0.1:5001",
    )
    for loc in (pad, wbo):
        assert loc.strip_prefix and loc.websocket and loc.timeout >= 3600  # socket.io > 45 s
    assert dict(pad.request_headers) == {"X-Proxy-Path": "/pad", "X-Forwarded-Prefix": "/pad"}
    assert wbo.unset_response_headers == ("X-Frame-Options",)  # WBO lives in the pad's iframe


@pytest.mark.parametrize("dialect", proxy.DIALECTS)
def test_every_dialect_renders_the_prefix_layout(dialect):
    recipe, site, settings = make({"pad_path": "/notes", "whiteboard_path": "/draw"})
    files = proxy.render(
        stack_vhosts(recipe, site, settings), dialect, proxy.site_from(site), "etherpad"
    )
    text = "\n".join(files.values())
    for prefix in ("notes", "draw"):
        assert prefix in text, f"{dialect} lost /{prefix}/"
    assert "9001" in text and "5001" in text


def test_nginx_and_apache_strip_the_prefixes_and_upgrade_both_socket_paths():
    recipe, site, settings = make()
    vhosts = stack_vhosts(recipe, site, settings)
    nginx = "\n".join(proxy.render(vhosts, "nginx", proxy.site_from(site), "etherpad").values())
    assert 'rewrite "^/pad/?(.*)$" /$1 break;' in nginx
    assert 'rewrite "^/whitepad/?(.*)$" /$1 break;' in nginx
    assert nginx.count("proxy_set_header Upgrade $http_upgrade;") == 2
    assert 'proxy_set_header X-Proxy-Path "/pad";' in nginx
    assert "proxy_hide_header X-Frame-Options;" in nginx
    apache = "\n".join(proxy.render(vhosts, "apache", proxy.site_from(site), "etherpad").values())
    assert 'ProxyPassMatch "^/pad/?(.*)$" "http://127.0.0.1:9001/$1" upgrade=websocket' in apache
    assert (
        'ProxyPassMatch "^/whitepad/?(.*)$" "http://127.0.0.1:5001/$1" upgrade=websocket' in apache
    )


# -- actions ----------------------------------------------------------------------------------


def stack(stack_raw=None, tmp_path=None):
    recipe, site, settings = make(stack_raw)
    return Stack(recipe, site, settings, State(tmp_path / "state.json") if tmp_path else None)


def test_keycloak_client_json_redirects_to_the_plugin_callback(capsys, tmp_path):
    result = action_runner("etherpad-keycloak-client")(
        stack(tmp_path=tmp_path), FakeEngine(), get_recipe("etherpad").action("keycloak-client"), []
    )
    out = capsys.readouterr().out
    client = json.loads(out[out.index("{") :])
    assert client["clientId"] == "etherpad" and client["publicClient"] is False
    assert client["redirectUris"] == ["https://meet.example.lan/pad/ep_openid_connect/callback"]
    assert "ep_openid_connect/callback" in result.message and result.exit_code == 0


def test_jitsi_env_lines():
    _, _, settings = make()
    assert kinds.jitsi_env(settings) == [
        "ETHERPAD_URL_BASE=https://meet.example.lan/pad",
        "ETHERPAD_PUBLIC_URL=https://meet.example.lan/pad/p/",
    ]


def test_build_image_passes_the_plugins_and_tags_the_image_setting(tmp_path):
    engine = FakeEngine()
    action = get_recipe("etherpad").action("build-image")
    own = stack({"image": "local/etherpad", "version": "3.3.1-sso"}, tmp_path)
    result = action_runner("etherpad-build-image")(own, engine, action, ["./etherpad", "ep_align"])
    assert engine.calls[-1] == (
        "build",
        "./etherpad",
        "local/etherpad:3.3.1-sso",
        {"ETHERPAD_PLUGINS": "ep_align"},
    )
    assert result.exit_code == 0
    action_runner("etherpad-build-image")(own, engine, action, ["./etherpad"])
    assert engine.calls[-1][3] == {"ETHERPAD_PLUGINS": "ep_openid_connect ep_whiteboard"}


@pytest.mark.parametrize(
    ("values", "stack_raw"),
    [
        ([], {"image": "local/etherpad"}),
        (["./src", "rm -rf /"], {"image": "local/etherpad"}),
        (["./src", "ep_x"], {}),  # would overwrite the stock image's tag
    ],
)
def test_build_image_refuses(values, stack_raw, tmp_path):
    engine = FakeEngine()
    with pytest.raises(StackctlError):
        action_runner("etherpad-build-image")(
            stack(stack_raw, tmp_path), engine, get_recipe("etherpad").action("build-image"), values
        )
    assert "build" not in engine.verbs()
