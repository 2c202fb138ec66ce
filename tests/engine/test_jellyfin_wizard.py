"""Jellyfin's first run on a real engine, against a stand-in (tests/images/jellyfin-standin).

The stand-in honours Jellyfin's documented HTTP contract (Degraded then Healthy, the
startup endpoints, API keys listed by app name, libraries, network configuration, the
SSO plugin's endpoints) and accepts only the `Authorization: MediaBrowser Token=...`
header. It proves stackctl's side of that contract, not Jellyfin itself.
"""

from __future__ import annotations

import io
import json
import os
import sys
import urllib.request
from pathlib import Path

import pytest

from stackctl.envfile import read_env
from tests.conftest import TEST_IMAGES

from .conftest import docker, free_port, names, teardown_stack

NAMES = names("jellyfin")  # this run's engine names for the stack

pytestmark = pytest.mark.engine

STANDIN = "stackctl-test/jellyfin-standin:latest"
ISSUER = "https://sso.test.lan/realms/home"


def teardown_jellyfin(stack_dir: Path) -> None:
    teardown_stack(stack_dir, "jellyfin")


@pytest.fixture
def jellyfin(tmp_path: Path, engine_ready: None, site_file, monkeypatch):
    if docker("image", "inspect", STANDIN, check=False).returncode:
        pytest.fail(f"{STANDIN} is missing: run `bash tests/images/build.sh jellyfin-standin`")
    media = tmp_path / "media"
    for folder in ("video", "music"):
        (media / folder).mkdir(parents=True)
        (media / folder / "sample.txt").write_text("not really media\n")
    port = free_port()

    def write(stack_extra: str = "", sso: bool = True) -> None:
        extra = f'[sso]\nenabled = true\nissuer = "{ISSUER}"\n' if sso else ""
        extra += (
            f"[stacks.jellyfin]\nhttp_port = {port}\n"
            "libraries = [\n"
            f'  {{ name = "Movies", type = "movies", path = "{media}/video" }},\n'
            f'  {{ name = "Music", type = "music", path = "{media}/music" }},\n'
            "]\n" + stack_extra
        )
        site_file(extra=extra, images={**TEST_IMAGES, "jellyfin/jellyfin": STANDIN})

    stack_dir = tmp_path / "stacks" / "docker-jellyfin"
    teardown_jellyfin(stack_dir)
    write()
    yield {
        "write": write,
        "port": port,
        "stack_dir": stack_dir,
        "data": tmp_path / "data" / "jellyfin",
        "media": media,
    }
    teardown_jellyfin(stack_dir)


def deploy(run_cli, *options: str) -> dict:
    result = run_cli("deploy", "jellyfin", "--json", "--wait", "120", *options)
    assert result.exit_code == 0, result.stdout + result.stderr
    (report,) = json.loads(result.stdout[result.stdout.index("[\n") :])  # one list shape
    return report


def set_secret(run_cli, monkeypatch, name: str, value: str) -> None:
    stdin = io.TextIOWrapper(io.BytesIO((value + "\n").encode()))  # secrets set reads bytes
    monkeypatch.setattr(sys, "stdin", stdin)
    assert run_cli("secrets", "set", "jellyfin", name).exit_code == 0


def standin_calls(port: int, base: str = "") -> list[dict]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/standin/calls", timeout=5) as reply:
        return json.load(reply)["calls"]


def standin_state(site: dict) -> dict:
    return json.loads((site["data"] / "config" / "standin-state.json").read_text())


def steps(report: dict) -> dict[str, tuple[str, str]]:
    return {s["id"]: (s["outcome"], s["detail"]) for s in report["steps"]}


def test_first_run_then_nothing_changes(jellyfin, run_cli, monkeypatch):
    set_secret(run_cli, monkeypatch, "JELLYFIN_SSO_CLIENT_SECRET", "kc-client-secret")
    first = deploy(run_cli)
    outcome = steps(first)
    assert outcome["data-owner"][0] == "changed"
    assert outcome["first-run"] == (
        "changed",
        "wizard completed with administrator admin; API key stackctl created and stored",
    )
    assert outcome["libraries"] == ("changed", "added Movies, Music")
    assert outcome["network"][0] == "changed"
    assert outcome["sso"][0] == "changed"

    env = read_env(jellyfin["stack_dir"] / ".env")
    state = standin_state(jellyfin)
    # the wizard ran: admin with the generated password, wizard marked complete
    assert state["wizard_completed"] is True
    assert state["users"][0]["Name"] == "admin"
    assert state["users"][0]["Password"] == env["JELLYFIN_ADMIN_PASSWORD"]
    assert state["startup_configuration"]["ServerName"] == "Jellyfin"
    assert state["remote_access"] == {
        "EnableRemoteAccess": True,
        "EnableAutomaticPortMapping": False,
    }
    # the API key Jellyfin handed out is the one in .env
    keys = [k["AccessToken"] for k in state["api_keys"] if k["AppName"] == "stackctl"]
    assert keys == [env["JELLYFIN_API_KEY"]]
    # libraries point at the read-only mounts of the configured folders
    assert {
        (lib["Name"], lib["CollectionType"], tuple(lib["Locations"])) for lib in state["libraries"]
    } == {
        ("Movies", "movies", ("/media/movies",)),
        ("Music", "music", ("/media/music",)),
    }
    # the host reaches the published port through the stack network's gateway: a known proxy
    gateway = first["network"]["gateway"]
    assert gateway in state["network"]["KnownProxies"]
    # SSO: repository added next to the existing one, plugin installed and loaded, provider set
    urls = [r["Url"] for r in state["repositories"]]
    assert urls[0] == "https://standin.invalid/plugin/manifest.json" and len(urls) == 2
    assert [(p["Id"], p["Status"]) for p in state["plugins"]] == [
        ("505ce9d1d91642fa86ca673ef241d7df", "Active")
    ]
    provider = state["sso_providers"]["keycloak"]
    assert provider["OidEndpoint"] == ISSUER
    assert provider["OidSecret"] == "kc-client-secret"
    assert provider["Roles"] == ["jellyfin-users"] and provider["AdminRoles"] == ["jellyfin-admins"]
    assert provider["RoleClaim"] == "realm_access.roles" and provider["SchemeOverride"] == "https"
    assert (
        "https://jellyfin.test.lan/sso/OID/start/keycloak" in state["branding"]["LoginDisclaimer"]
    )

    # the container: dedicated uid/gid, limits, loopback port, read-only media, healthy
    inspect = json.loads(docker("inspect", NAMES.container("server")).stdout)[0]
    assert inspect["Config"]["User"] == "990:990"
    assert inspect["HostConfig"]["NanoCpus"] == 2_000_000_000
    assert inspect["HostConfig"]["Memory"] == 4 << 30  # the 4g default
    bindings = inspect["HostConfig"]["PortBindings"]["8096/tcp"]
    assert bindings == [{"HostIp": "127.0.0.1", "HostPort": str(jellyfin["port"])}]
    media = {m["Destination"]: m["RW"] for m in inspect["Mounts"]}
    assert media["/media/movies"] is False and media["/media/music"] is False
    assert inspect["State"]["Health"]["Status"] == "healthy"
    assert os.stat(jellyfin["data"] / "config").st_uid == 990
    env_var = "JELLYFIN_PublishedServerUrl=https://jellyfin.test.lan"
    assert env_var in inspect["Config"]["Env"]

    # second deploy: the API key the first run stored is a new secret, so every check runs
    # once more: nothing changes, no wizard call, no write at all, only the 12.0-safe header
    before = len(standin_calls(jellyfin["port"]))
    second = deploy(run_cli)
    assert not second["changed"], second
    assert all(o == "unchanged" for o, _ in steps(second).values()), second["steps"]
    calls = standin_calls(jellyfin["port"])
    new = calls[before:]
    assert new, "the second deploy checked nothing"
    assert not [c for c in new if c["path"].startswith("/Startup/")]
    assert {c["method"] for c in new} == {"GET"}
    assert {c["auth"] for c in calls} <= {"none", "anonymous", "api-key", "session"}
    assert {c["auth"] for c in new if c["path"] != "/health"} <= {"anonymous", "api-key"}
    assert read_env(jellyfin["stack_dir"] / ".env")["JELLYFIN_API_KEY"] == env["JELLYFIN_API_KEY"]
    assert "refused legacy authorization" not in docker("logs", NAMES.container("server")).stdout

    # third deploy: the stack runs as when the checks passed, so only the host-side
    # ownership check runs and the API is not asked; --recheck asks it again
    def api_calls() -> int:
        return len([c for c in standin_calls(jellyfin["port"]) if c["path"] != "/health"])

    before = api_calls()
    third = deploy(run_cli)
    assert not third["changed"], third
    outcome = steps(third)
    assert outcome.pop("data-owner")[0] == "unchanged"
    assert {o for o, _ in outcome.values()} == {"skipped"}, third["steps"]
    assert api_calls() == before
    rechecked = deploy(run_cli, "--recheck")
    assert all(o == "unchanged" for o, _ in steps(rechecked).values()), rechecked["steps"]
    assert api_calls() > before
    # the stand-in's /socket echoes, as the proxy tests expect of the path
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{jellyfin['port']}/socket", open_timeout=5) as socket:
        socket.send("ping")
        assert socket.recv(timeout=5) == "ping"


def test_base_url_sso_waiting_for_its_secret_and_a_lost_api_key(jellyfin, run_cli, monkeypatch):
    jellyfin["write"]('base_url = "/jellyfin"\n')
    first = deploy(run_cli)
    outcome = steps(first)
    assert outcome["network"] == (
        "changed",
        f"known proxies + {first['network']['gateway']}; base URL /jellyfin; restarted",
    )
    assert outcome["sso"] == ("unchanged", "waiting for JELLYFIN_SSO_CLIENT_SECRET")
    # after the restart Jellyfin answers under the base URL only, and is healthy there
    port = jellyfin["port"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/jellyfin/health", timeout=5) as reply:
        assert reply.read() == b"Healthy"
    assert (
        json.loads(docker("inspect", NAMES.container("server")).stdout)[0]["State"]["Health"][
            "Status"
        ]
        == "healthy"
    )
    # the proxy routes carry the prefix, unstripped
    proxy = (jellyfin["stack_dir"] / "proxy" / "apache" / "stackctl-jellyfin.conf").read_text()
    assert "/jellyfin/socket" in proxy

    # an API key revoked in the dashboard is replaced on the next deploy
    state_file = jellyfin["data"] / "config" / "standin-state.json"
    docker("stop", NAMES.container("server"))
    state = json.loads(state_file.read_text())
    state["api_keys"] = []
    state_file.write_text(json.dumps(state))
    docker("start", NAMES.container("server"))
    old = read_env(jellyfin["stack_dir"] / ".env")["JELLYFIN_API_KEY"]
    set_secret(run_cli, monkeypatch, "JELLYFIN_SSO_CLIENT_SECRET", "kc-secret")
    second = deploy(run_cli)
    outcome = steps(second)
    assert outcome["first-run"] == ("changed", "API key stackctl created and stored")
    assert outcome["sso"][0] == "changed"
    new = read_env(jellyfin["stack_dir"] / ".env")["JELLYFIN_API_KEY"]
    assert new != old
    assert [k["AccessToken"] for k in json.loads(state_file.read_text())["api_keys"]] == [new]
    assert not [c for c in standin_calls(port) if c["path"].startswith("/jellyfin/Startup/")]
