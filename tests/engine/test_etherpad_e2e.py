"""Etherpad 2.5.3 (standing for the pinned 3.3.1, which is not verified) and WBO 2.17.0, the
real apps built from upstream source, on real MariaDB, deployed by stackctl on the real
engine, reached through the real nginx and Apache running the recipe's own proxy snippets
with TLS from the test CA, in the seed's layout: https://meet.test.lan/pad/ and /whitepad/.

One stack is deployed for the module (a cold Etherpad start takes a while), by the first test
that asks for it: a deploy killed during the database step, its resume and a no-op deploy. Each
test writes what it reads, so any one of them passes alone.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator

import pytest

from stackctl.proxy.model import VirtualHost
from tests.conftest import RUN_PREFIX, TEST_IMAGES
from tests.engine.conftest import docker, free_port, names, run_pool, teardown_stack
from tests.proxy_real import harness
from tests.proxy_real.conftest import server_for

pytestmark = [pytest.mark.engine, pytest.mark.proxies]

NAMES = names("etherpad")
HOST = "meet.test.lan"
PAD = "stackctl-e2e"
TEXT = "Grüße aus dem Pad 🚀 — utf8mb4 all the way\nsecond line"
BOARD = "stackctl-e2e-board"
DIALECTS = ("nginx", "apache")


# -- the deployed stack -----------------------------------------------------------------------


def stackctl(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """stackctl as a user runs it: its own process, the site file from $STACKCTL_CONFIG."""
    return subprocess.run(
        [sys.executable, "-m", "stackctl", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
    )


def deploy() -> dict:
    done = stackctl("deploy", "etherpad", "--json", "--wait", "300")
    assert done.returncode == 0, done.stdout + done.stderr
    (report,) = json.loads(done.stdout[done.stdout.index("[\n") :])  # one list shape
    report["outcome"] = {s["id"]: (s["outcome"], s["detail"]) for s in report["steps"]}
    return report


@pytest.fixture(scope="module")
def site(tmp_path_factory, engine_ready) -> Iterator[dict]:
    """stackctl.toml for Etherpad on MariaDB (the seed's database), the API key mode the tests
    call the API with, free ports and the test images."""
    root = tmp_path_factory.mktemp("etherpad")
    ports = {"port": free_port(), "wbo_port": free_port()}
    table = {**ports, "database": "mariadb", "api_auth": "apikey", "enabled": True}
    text = "\n".join(
        [
            'domain = "test.lan"',
            f'data_root = "{root}/data"',
            f'stacks_root = "{root}/stacks"',
            f'subnet_pool = ["{run_pool()}"]',
            f'proxy_root = "{root}/proxyroot"',
            f'name_prefix = "{RUN_PREFIX}"',
            "[stacks.etherpad]",
            *(f"{k} = {json.dumps(v)}" for k, v in table.items()),
            "[images]",
            *(f'"{k}" = "{v}"' for k, v in TEST_IMAGES.items()),
        ]
    )
    (root / "stackctl.toml").write_text(text + "\n")
    stack_dir = root / "stacks" / "docker-etherpad"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STACKCTL_CONFIG", str(root / "stackctl.toml"))
        patch.chdir(root)
        try:
            yield {
                "root": root,
                "ports": ports,
                "dir": stack_dir,
                "data": root / "data" / "etherpad",
            }
        finally:
            teardown_stack(stack_dir, "etherpad")


def journal(site: dict) -> dict:
    return json.loads((site["dir"] / ".stackctl" / "state.json").read_text())["journal"]


def container_ids(services: tuple[str, ...]) -> dict[str, str]:
    return {s: docker("inspect", "-f", "{{.Id}}", NAMES.container(s)).stdout for s in services}


def kill_during_the_database_step(site: dict) -> None:
    """Start a deploy and SIGKILL it while the journal says the database step has started."""
    process = subprocess.Popen(
        [sys.executable, "-m", "stackctl", "deploy", "etherpad", "--wait", "300"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
        start_new_session=True,  # the whole group dies, compose CLI included
    )
    state = site["dir"] / ".stackctl" / "state.json"
    deadline = time.monotonic() + 300
    try:
        while not (
            state.exists() and journal(site).get("mariadb-database", {}).get("status") == "started"
        ):
            if process.poll() is not None:
                pytest.fail(f"deploy ended first:\n{process.stdout.read().decode()}")
            assert time.monotonic() < deadline, "the database step never started"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@pytest.fixture(scope="module")
def deployed(site) -> dict:
    """The module's one deploy, made by the first test that needs the stack: killed during the
    database step, resumed, then run again with nothing to do. What each stage saw is kept for
    the test of the resume; the others only need the running stack."""
    kill_during_the_database_step(site)
    killed = {
        "journal": journal(site)["mariadb-database"]["status"],
        "etherpad_running": docker(
            "ps", "-q", "--filter", f"name={NAMES.container('etherpad')}"
        ).stdout.strip(),
    }
    started = time.monotonic()
    first = deploy()
    print(
        f"\nEtherpad 2.5.3 + WBO + MariaDB, deploy resumed after the kill: {time.monotonic() - started:.0f}s"
    )
    resumed_journal = journal(site)["mariadb-database"]["status"]
    services = ("etherpad", "wbo", "mariadb")
    ids_before = container_ids(services)
    second = deploy()
    return {
        "killed": killed,
        "first": first,
        "resumed_journal": resumed_journal,
        "second": second,
        "ids_before": ids_before,
        "ids_after": container_ids(services),
    }


def sql(query: str, database: str = "") -> str:
    """A query as MariaDB's root, over its socket (tab-separated rows)."""
    script = (
        'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" exec mariadb -uroot -N -B --raw '
        f"--default-character-set=utf8mb4 {database}"
    )
    done = subprocess.run(
        ["docker", "exec", "-i", NAMES.container("mariadb"), "sh", "-c", script],
        input=query,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# -- the proxies ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def proxies(site, deployed, world) -> Iterator[dict[str, int]]:
    """nginx and Apache with the rendered snippets for this stack; dialect -> HTTPS port."""
    from stackctl.recipe import get_recipe
    from stackctl.render import stack_vhosts
    from stackctl.settings import load_site, stack_settings

    loaded = load_site()
    recipe = get_recipe("etherpad")
    settings = stack_settings(loaded, "etherpad", recipe.settings, ["etherpad"])
    hosts: list[VirtualHost] = stack_vhosts(recipe, loaded, settings)
    assert [h.hostname for h in hosts] == [HOST]
    running, ports = [], {}
    for dialect in DIALECTS:
        if not harness.have(harness.E2E_DIALECTS[dialect]):
            pytest.fail(f"{dialect} is not installed (scripts/test.sh installs it)")
        server = server_for(world, dialect, hosts, f"etherpad-{dialect}", "etherpad", True)
        try:
            server.start()
        except RuntimeError as exc:
            pytest.fail(f"{dialect} did not start: {exc}\n{server.log()}")
        running.append(server)
        ports[dialect] = server.extra["site"].https_port
    yield ports
    for server in running:
        server.stop()


def get(world, port: int, path: str, **kwargs) -> harness.Reply:
    return harness.request(port, HOST, path, world.context(), **kwargs)


def api(world, port: int, site: dict, call: str, **params: str) -> dict:
    key = (site["dir"] / "APIKEY.txt").read_text()
    query = urllib.parse.urlencode({"apikey": key, **params})
    reply = get(world, port, f"/pad/api/1.2.13/{call}?{query}")
    assert reply.status == 200, reply.body[:300]
    answer = reply.json()
    assert answer["code"] == 0, answer
    return answer["data"] or {}


def socketio(world, port: int, path: str):
    """An engine.io websocket through the proxy, opened straight with the upgrade."""
    from websockets.sync.client import connect

    sock = socket.create_connection(
        ("127.0.0.1", port), timeout=10, source_address=(harness.CLIENT_IP, 0)
    )
    return connect(
        f"wss://{HOST}:{port}{path}",
        sock=sock,
        ssl=harness.sync_client_context(world.context()),
        server_hostname=HOST,
        open_timeout=60,  # a loaded test machine answers slowly
    )


def until(ws, prefix: str, seconds: float = 30) -> list[str]:
    """socket.io messages up to the first that starts with prefix (pings answered)."""
    heard: list[str] = []
    deadline = time.monotonic() + seconds
    while not (heard and heard[-1].startswith(prefix)):
        assert time.monotonic() < deadline, f"no {prefix} in {heard}"
        message = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
        if message == "2":
            ws.send("3")
        heard.append(message)
    return heard


def write_pad(world, port: int, site: dict, pad: str) -> None:
    api(world, port, site, "createPad", padID=pad, text="first")
    api(world, port, site, "setText", padID=pad, text=TEXT)


def draw(world, port: int, site: dict, board: str, shape_id: str) -> None:
    """A rectangle drawn on a board over socket.io, waited for in WBO's saved file."""
    shape = {
        "tool": 3,  # rectangle
        "type": 1,  # create
        "id": shape_id,
        "color": "#123456",
        "size": 10,
        "x": 1,
        "y": 2,
        "x2": 30,
        "y2": 40,
    }
    path = f"/whitepad/socket.io/?EIO=4&transport=websocket&board={board}"
    with socketio(world, port, path) as ws:
        assert ws.recv(timeout=30).startswith("0{")
        ws.send("40")
        # WBO takes writes once it has sent the board's replay batch to this socket
        heard = until(ws, '42["broadcast"')
        assert heard[0].startswith("40"), heard
        ws.send("42" + json.dumps(["broadcast", shape]))
        saved = site["data"] / "wbo" / f"board-{board}.svg"
        deadline = time.monotonic() + 30  # WBO saves every 2 s
        while not (saved.exists() and shape_id in saved.read_text()):
            assert time.monotonic() < deadline, f"{saved} holds no {shape_id}"
            time.sleep(0.5)


# -- the tests ------------------------------------------------------------------------------------


def test_etherpad_2_5_3_deploy_killed_in_the_database_step_resumes_then_changes_nothing(
    site, deployed
):
    # killed while the database step ran: the journal said started, not done
    assert deployed["killed"] == {"journal": "started", "etherpad_running": ""}
    first = deployed["first"]
    assert first["outcome"]["mariadb-database"][0] == "changed", first["outcome"]
    assert deployed["resumed_journal"] == "done"
    # the seed's database: utf8mb4_bin and exactly its grants
    assert (
        sql(
            "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
            "WHERE SCHEMA_NAME = 'etherpad'"
        )
        == "utf8mb4\tutf8mb4_bin"
    )
    grants = sql("SHOW GRANTS FOR 'etherpad'@'%'")
    assert "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER ON `etherpad`.*" in grants
    for container in ("etherpad", "mariadb"):
        health = docker("inspect", "-f", "{{.State.Health.Status}}", NAMES.container(container))
        assert health.stdout.strip() == "healthy"
    assert first["outcome"]["etherpad-health"][0] == "unchanged"
    assert first["outcome"]["wbo-answers"][1].endswith("/manifest.json answers 200")

    second = deployed["second"]
    assert not second["changed"], second
    assert second["containers_changed"] == [] and second["secrets_created"] == []
    assert {f["action"] for f in second["files"] + second["proxy_files"]} == {"identical"}
    assert second["outcome"]["mariadb-database"] == ("skipped", "done earlier")
    assert deployed["ids_before"] == deployed["ids_after"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_etherpad_2_5_3_pad_written_and_read_through_the_proxy(site, proxies, world, dialect):
    port = proxies[dialect]
    pad = f"{PAD}-{dialect}"
    write_pad(world, port, site, pad)
    assert api(world, port, site, "getText", padID=pad)["text"] == TEXT + "\n"
    # a wrong key is refused through the proxy too
    reply = get(world, port, f"/pad/api/1.2.13/getText?apikey=wrong&padID={pad}")
    assert reply.json()["code"] == 4


@pytest.mark.parametrize("dialect", DIALECTS)
def test_etherpad_2_5_3_and_wbo_2_17_0_socketio_upgrades_on_both_prefixes(
    site, proxies, world, dialect
):
    port = proxies[dialect]
    with socketio(world, port, "/pad/socket.io/?EIO=4&transport=websocket") as ws:
        opened = ws.recv(timeout=30)
    assert opened.startswith("0{") and '"sid"' in opened  # engine.io open packet from Etherpad
    path = f"/whitepad/socket.io/?EIO=4&transport=websocket&board={BOARD}-{dialect}"
    with socketio(world, port, path) as ws:
        assert ws.recv(timeout=30).startswith("0{")
        ws.send("40")  # join the default namespace
        assert ws.recv(timeout=30).startswith("40")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_etherpad_2_5_3_admin_answers_under_the_prefix_and_refuses_a_wrong_password(
    site,
    proxies,
    world,
    dialect,
):
    port = proxies[dialect]
    page = get(world, port, "/pad/admin/")
    assert page.status == 200
    assert b"/pad/admin" in page.body  # rewritten from X-Proxy-Path: assets load under /pad/
    wrong = base64.b64encode(b"admin:not-the-password").decode()
    refused = get(
        world,
        port,
        "/pad/admin-auth/",
        method="POST",
        body=b"",
        headers={"Authorization": f"Basic {wrong}"},
    )
    assert refused.status == 401
    env = dict(
        line.split("=", 1)
        for line in (site["dir"] / ".env").read_text().splitlines()
        if "=" in line
    )
    password = env["ADMIN_PASSWORD"].strip("'\"")
    right = base64.b64encode(f"admin:{password}".encode()).decode()
    accepted = get(
        world,
        port,
        "/pad/admin-auth/",
        method="POST",
        body=b"",
        headers={"Authorization": f"Basic {right}"},
    )
    assert accepted.status == 200


@pytest.mark.parametrize("dialect", DIALECTS)
def test_wbo_2_17_0_serves_a_board_and_keeps_a_drawing(site, proxies, world, dialect):
    port = proxies[dialect]
    board = f"{BOARD}-{dialect}"
    page = get(world, port, f"/whitepad/boards/{board}")
    assert page.status == 200 and b"/whitepad/" in page.body  # WBO_BASE_PATH in its links
    assert not page.header_values("X-Frame-Options")  # it is framed by the pad
    draw(world, port, site, board, f"rect-{dialect}")


def test_etherpad_2_5_3_and_wbo_2_17_0_restart_keeps_pads_in_the_database_and_boards_on_disk(
    site, proxies, world
):
    # its own pads and boards, written before the restart (no other test's are relied on)
    for dialect in DIALECTS:
        write_pad(world, proxies[dialect], site, f"{PAD}-kept-{dialect}")
        draw(world, proxies[dialect], site, f"{BOARD}-kept-{dialect}", f"rect-kept-{dialect}")
    services = ("etherpad", "wbo", "mariadb")
    before = container_ids(services)
    done = stackctl("down", "etherpad")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not docker("ps", "-q", "--filter", f"name={NAMES.container('etherpad')}").stdout.strip()
    deploy()
    for service in services:  # new containers, running
        assert (
            docker("inspect", "-f", "{{.Id}}", NAMES.container(service)).stdout != before[service]
        )
        state = docker("inspect", "-f", "{{.State.Status}}", NAMES.container(service)).stdout
        assert state.strip() == "running"
    for dialect in DIALECTS:
        pad = f"{PAD}-kept-{dialect}"
        # the same API key after a new container: the mounted APIKEY.txt
        assert api(world, proxies[dialect], site, "getText", padID=pad)["text"] == TEXT + "\n"
        row = json.loads(sql(f"SELECT value FROM store WHERE `key` = 'pad:{pad}'", "etherpad"))
        assert row["atext"]["text"] == TEXT + "\n"
        # the rocket is stored as its four UTF-8 bytes, not as "?"
        rocket = sql(
            f"SELECT HEX(value) LIKE '%F09F9A80%' FROM store WHERE `key` = 'pad:{pad}'", "etherpad"
        )
        assert rocket == "1"
        board = site["data"] / "wbo" / f"board-{BOARD}-kept-{dialect}.svg"
        assert f"rect-kept-{dialect}" in board.read_text()
        svg = get(world, proxies[dialect], f"/whitepad/boards/{BOARD}-kept-{dialect}.svg")
        assert svg.status == 200 and f"rect-kept-{dialect}".encode() in svg.body
    owner = (site["data"] / "wbo").stat()
    assert (owner.st_uid, owner.st_gid) == (1000, 1000)
    collation = sql(
        "SELECT COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_NAME = 'store' AND COLUMN_NAME = 'key'"
    )
    assert collation == "utf8mb4_bin"
