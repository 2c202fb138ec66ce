"""Etherpad 2.5.3 (standing for the pinned 3.3.1, not verified) on the default database,
Postgres, in the host layout without the whiteboard: a pad written through the published
port is a row of Etherpad's `store` table, and survives new containers."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest

from tests.conftest import TEST_IMAGES
from tests.engine.conftest import docker, free_port, names, teardown_stack

pytestmark = pytest.mark.engine

NAMES = names("etherpad")


@pytest.fixture
def site(tmp_path, engine_ready, site_file):
    port = free_port()
    table = {"port": port, "api_auth": "apikey", "layout": "hosts", "whiteboard": False}
    extra = "[stacks.etherpad]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items())
    site_file(extra=extra, images=TEST_IMAGES)
    stack_dir = tmp_path / "stacks" / "docker-etherpad"
    yield {"port": port, "dir": stack_dir}
    teardown_stack(stack_dir, "etherpad")


def call(site: dict, function: str, **params: str) -> dict:
    query = urllib.parse.urlencode({"apikey": (site["dir"] / "APIKEY.txt").read_text(), **params})
    url = f"http://127.0.0.1:{site['port']}/api/1.2.13/{function}?{query}"
    with urllib.request.urlopen(url, timeout=10) as reply:
        answer = json.load(reply)
    assert answer["code"] == 0, answer
    return answer["data"] or {}


def psql(query: str) -> str:
    done = docker(
        "exec", NAMES.container("db"),
        "psql", "-X", "-q", "-t", "-A", "-U", "etherpad", "-d", "etherpad", "-c", query,
    )  # fmt: skip
    return done.stdout.strip()


def test_etherpad_2_5_3_on_postgres_keeps_a_pad_in_its_store_table(site, run_cli):
    deployed = run_cli("deploy", "etherpad", "--wait", "300")
    assert deployed.exit_code == 0, deployed.stdout + deployed.stderr
    assert not docker("ps", "-aq", "--filter", f"name={NAMES.container('wbo')}").stdout.strip()
    call(site, "createPad", padID="pg-pad", text="Postgres holds this")
    row = json.loads(psql("SELECT value FROM store WHERE key = 'pad:pg-pad'"))
    assert row["atext"]["text"] == "Postgres holds this\n"
    assert run_cli("down", "etherpad").exit_code == 0
    again = run_cli("deploy", "etherpad", "--wait", "300")
    assert again.exit_code == 0, again.stdout + again.stderr
    assert call(site, "getText", padID="pg-pad")["text"] == "Postgres holds this\n"
