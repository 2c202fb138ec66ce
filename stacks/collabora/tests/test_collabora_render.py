"""The Collabora recipe rendered purely; the discovery check and the Nextcloud action."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from stackctl.engine import ExecResult
from stackctl.errors import SettingsError, StackctlError
from stackctl.network import layout
from stackctl.paths import stacks_dir
from stackctl.recipe import Step, get_recipe
from stackctl.recipe_module import load
from stackctl.render import StackInputs, render_stack, stack_vhosts
from stackctl.settings import parse_site, stack_settings
from stackctl.stack import Stack
from stackctl.state import State
from stackctl.steps import StepContext

RECIPES = ["ente", "jellyfin", "collabora"]
steps = load(stacks_dir() / "collabora")  # the recipe's own kinds (stacks/collabora/kinds.py)


def make(site_raw=None, stack_raw=None):
    raw = {"domain": "example.lan", **(site_raw or {})}
    raw["stacks"] = {"collabora": stack_raw or {}}
    site = parse_site(raw)
    recipe = get_recipe("collabora")
    return recipe, site, stack_settings(site, "collabora", recipe.settings, RECIPES)


def render(site_raw=None, stack_raw=None):
    recipe, site, settings = make(site_raw, stack_raw)
    plan = layout("collabora.lan", "172.21.5.0/24", recipe.network.fixed_ips, "pool")
    files = render_stack(StackInputs(recipe, site, settings, plan, {}, {}))
    return {f.path: f.content for f in files}


def service(site_raw=None, stack_raw=None):
    return yaml.safe_load(render(site_raw, stack_raw)["docker-compose.yml"])["services"]["code"]


def test_compose_defaults():
    code = service()
    assert code["container_name"] == "collabora-code"
    assert code["image"] == "collabora/code:26.04.2.1.1"
    assert code["ports"] == ["127.0.0.1:9980:9980"]
    env = code["environment"]
    # one alias group per WOPI host, derived from the settings: no .+ wildcard anywhere
    assert env["aliasgroup1"] == "https://cloud.example.lan:443"
    assert env["server_name"] == "code.example.lan"  # never with :443
    assert env["extra_params"] == "--o:ssl.enable=false --o:ssl.termination=true"
    assert env["DONT_GEN_SSL_CERT"] == "1"
    assert env["dictionaries"] == "de_DE en_GB en_US es_ES fr_FR it nl pt_BR pt_PT ru"
    assert env["username"] == "admin"
    assert env["password"].startswith("${COLLABORA_ADMIN_PASSWORD:?")
    assert ".+" not in render()["docker-compose.yml"] and ".*" not in render()["docker-compose.yml"]
    assert code["cap_add"] == ["SYS_ADMIN", "SYS_CHROOT", "FOWNER", "CHOWN"]
    assert code["cap_drop"] == ["NET_RAW"] and "MKNOD" not in code["cap_add"]
    # the image has no HTTP client: health is checked from the host (bootstrap step)
    assert "healthcheck" not in code
    recipe = get_recipe("collabora")
    assert [(s.kind, s.always) for s in recipe.bootstrap] == [("collabora-discovery", True)]


def test_wopi_hosts_post_allow_and_options_from_settings():
    env = service(
        stack_raw={
            "nextcloud_urls": ["https://Cloud.Example.org", "http://10.0.0.5:8080/"],
            "post_allow": ["10\\.0\\.0\\.5", "192\\.168\\.1\\.[0-9]+"],
            "extra_options": ["net.proto=IPv4", "welcome.enable=$false"],
            "dictionaries": ["en_GB"],
            "hostname": "office.example.org",
        }
    )["environment"]
    assert env["aliasgroup1"] == "https://cloud.example.org:443"
    assert env["aliasgroup2"] == "http://10.0.0.5:8080"
    assert env["server_name"] == "office.example.org"
    assert env["extra_params"] == (
        "--o:ssl.enable=false --o:ssl.termination=true "
        "--o:net.post_allow.host[0]=10\\.0\\.0\\.5 "
        "--o:net.post_allow.host[1]=192\\.168\\.1\\.[0-9]+ "
        "--o:net.proto=IPv4 --o:welcome.enable=$$false"  # compose would interpolate a lone $
    )
    assert env["dictionaries"] == "en_GB"


def test_any_wopi_host_only_when_asked():
    env = service(stack_raw={"allow_any_wopi_host": True})["environment"]
    assert env["aliasgroup1"] == "https://.*:443" and "aliasgroup2" not in env


@pytest.mark.parametrize(
    "origin",
    ["cloud.example.org", "https://cloud.example.org/nextcloud", "ftp://x.org", "https://a b"],
)
def test_wopi_hosts_must_be_origins(origin):
    with pytest.raises(SettingsError, match="stacks.collabora.nextcloud_urls"):
        make(stack_raw={"nextcloud_urls": [origin]})


def test_routes_cover_old_and_26_04_websockets():
    recipe, site, settings = make()
    (vhost,) = stack_vhosts(recipe, site, settings)
    assert vhost.hostname == "code.example.lan"
    routes = {
        loc.path: (loc.pattern, loc.websocket, loc.keep_encoded_slashes, loc.timeout)
        for loc in vhost.locations
    }
    assert routes == {
        "^/cool/(.*)/ws$": (True, True, True, 36000),
        "^/cool/ws$": (True, True, True, 36000),  # /cool/ws?WOPISrc=... since 26.04
        "/cool/adminws": (False, True, False, 36000),
        "/cool/": (False, True, True, 36000),
        "/lool/": (False, False, True, None),
        "/browser/": (False, False, False, None),
        "/hosting/discovery": (False, False, False, None),
        "/hosting/capabilities": (False, False, False, None),
        "^/$": (True, False, False, None),  # coolwsd's "OK" for the SDK check
    }
    assert {loc.upstream for loc in vhost.locations} == {"127.0.0.1:9980"}


def test_apache_keeps_encoded_slashes():
    apache = render()["proxy/apache/stackctl-collabora.conf"]
    assert "AllowEncodedSlashes NoDecode" in apache and "nocanon" in apache
    assert "upgrade=websocket" in apache


# -- discovery -----------------------------------------------------------------------------


DISCOVERY = b"""<?xml version="1.0" encoding="utf-8"?>
<wopi-discovery><net-zone name="external-http">
<app name="writer"><action default="true" ext="odt" name="edit"
 urlsrc="https://%s/browser/4a8f/cool.html?"/></app>
<app name="calc"><action ext="ods" name="edit" urlsrc="https://%s/browser/4a8f/cool.html?"/></app>
</net-zone></wopi-discovery>"""


class _Coolwsd(BaseHTTPRequestHandler):
    host = b"code.example.lan"

    def do_GET(self):
        body = DISCOVERY % (self.host, self.host) if self.path == "/hosting/discovery" else b"OK"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def coolwsd():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Coolwsd)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def context(tmp_path, stack_raw) -> StepContext:
    recipe, site, settings = make(stack_raw=stack_raw)
    plan = layout("collabora.lan", "172.21.5.0/24", {}, "pool")
    return StepContext(Stack(recipe, site, settings, State(tmp_path / "s.json")), None, plan, {})


def test_discovery_is_checked_from_the_host(tmp_path, coolwsd):
    step = Step("discovery", "collabora-discovery", "t", options={"wait_seconds": 2})
    ctx = context(tmp_path, {"port": coolwsd.server_port})
    _Coolwsd.host = b"code.example.lan"
    assert steps.discovery(step, ctx) == (
        False,
        "discovery answers; editor at https://code.example.lan/browser/4a8f/cool.html",
    )
    _Coolwsd.host = b"localhost:9980"  # server_name or TLS termination not in effect
    changed, detail = steps.discovery(step, ctx)
    assert (
        not changed
        and detail == "discovery answers, but with https://localhost:9980/browser/4a8f/cool.html"
    )


def test_discovery_that_never_answers_fails_with_a_hint(tmp_path):
    from tests.engine.conftest import free_port

    step = Step("discovery", "collabora-discovery", "t", options={"wait_seconds": 1})
    with pytest.raises(StackctlError, match="did not answer with a discovery document") as caught:
        steps.discovery(step, context(tmp_path, {"port": free_port()}))
    assert "SYS_ADMIN" in caught.value.hint


# -- connect-nextcloud ---------------------------------------------------------------------


APPS = '{"enabled": {"richdocuments": "8.7.1", "files": "2.3.1"}, "disabled": {}}'


class FakeEngine:
    def __init__(self, code: int = 0, apps: str = APPS):
        self.calls = []
        self.code = code
        self.apps = apps

    def exec(self, container, argv, user=None, environment=None):
        if "app:list" in argv:
            return ExecResult(0, self.apps)
        self.calls.append((container, list(argv), user))
        return ExecResult(self.code, "Config value were set\n")


def test_nextcloud_commands_are_printed_without_a_container(tmp_path, capsys):
    ctx = context(tmp_path, {"wopi_allowlist": ["172.21.5.0/24", "10.0.0.5"]})
    recipe = ctx.stack.recipe
    engine = FakeEngine()
    result = steps.connect_nextcloud(ctx.stack, engine, recipe.action("connect-nextcloud"), [])
    out = capsys.readouterr().out
    assert "php occ config:app:set richdocuments wopi_url --value=https://code.example.lan" in out
    assert "php occ richdocuments:activate-config" in out
    assert "wopi_allowlist --value=172.21.5.0/24,10.0.0.5" in out
    assert engine.calls == [] and result.exit_code == 0


def test_nextcloud_commands_run_in_the_named_container(tmp_path):
    ctx = context(tmp_path, {"nextcloud_container": "nextcloud-app"})
    action = ctx.stack.recipe.action("connect-nextcloud")
    engine = FakeEngine()
    result = steps.connect_nextcloud(ctx.stack, engine, action, [])
    assert engine.calls == [
        (
            "nextcloud-app",
            [
                "php",
                "occ",
                "config:app:set",
                "richdocuments",
                "wopi_url",
                "--value=https://code.example.lan",
            ],
            "www-data",
        ),
        ("nextcloud-app", ["php", "occ", "richdocuments:activate-config"], "www-data"),
    ]
    assert result.exit_code == 0
    failing = steps.connect_nextcloud(ctx.stack, FakeEngine(code=1), action, [])
    assert failing.exit_code == 1 and "config:app:set failed" in failing.message


@pytest.mark.parametrize(
    ("apps", "said"),
    [
        ('{"enabled": {"files": "2"}, "disabled": {"richdocuments": "8"}}', "app:enable"),
        ('{"enabled": {"files": "2"}, "disabled": {}}', "app:install"),
        ("not json", "app:install"),
    ],
)
def test_connect_nextcloud_first_checks_richdocuments_is_enabled(tmp_path, apps, said):
    ctx = context(tmp_path, {"nextcloud_container": "nextcloud-app"})
    engine = FakeEngine(apps=apps)
    result = steps.connect_nextcloud(
        ctx.stack, engine, ctx.stack.recipe.action("connect-nextcloud"), []
    )
    assert result.exit_code == 1 and said in result.message
    assert engine.calls == []  # nothing configured


def test_the_guessed_wopi_host_is_warned_about(tmp_path):
    from stackctl.stack import stack_warnings

    guessed = stack_warnings(context(tmp_path, {}).stack)
    assert any("Unauthorized WOPI host" in w for w in guessed)
    told = context(tmp_path, {"nextcloud_urls": ["https://nc.example.lan"]}).stack
    assert not any("WOPI" in w for w in stack_warnings(told))
