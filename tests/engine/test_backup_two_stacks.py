"""Two stacks in one archive, back on a server with nothing left of them, through the
scripted reinstall's one command: `stackctl restore FILE --passphrase-file F --deploy`.

Ente runs on the engine tests' stand-ins with the real Postgres; Etherpad is the real
Etherpad 2.5.3 (standing for the pinned 3.3.1) on the real MariaDB 10.11 (tests/images),
its pads written through Etherpad's HTTP API. The MariaDB data folder is never copied:
the archive holds a `mariadb-dump --single-transaction` streamed out of the container, and
the restored deploy loads it into a fresh MariaDB before Etherpad starts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stackctl.backup.archive import Keys, extract
from tests.conftest import TEST_IMAGES

from .conftest import CLI_STANDIN, docker, free_port, names, teardown_stack
from .test_backup_e2e import psql
from .test_etherpad_postgres import call

pytestmark = pytest.mark.engine

PASSPHRASE = "two stacks, one archive"
PADS = {"restore-one": "Grüße aus dem Pad 🚀\nzweite Zeile", "restore-two": "second pad"}
STACKS = ("ente", "etherpad")


@pytest.fixture
def two_stacks(tmp_path: Path, engine_ready: None, site_file):
    ente = {"api_port": free_port(), "auth_port": free_port(), "s3_port": free_port()}
    etherpad = {
        "enabled": True,
        "port": free_port(),
        "database": "mariadb",
        "api_auth": "apikey",
        "layout": "hosts",
        "whiteboard": False,
    }
    extra = "[stacks.ente]\nenabled = true\n" + "".join(f"{k} = {v}\n" for k, v in ente.items())
    extra += f'hardcoded_otts = ["me@home.lan,123456"]\ncli_image = "{CLI_STANDIN}"\n'
    extra += "[stacks.etherpad]\n" + "".join(
        f"{k} = {json.dumps(v)}\n" for k, v in etherpad.items()
    )
    path = site_file(extra=extra, images=TEST_IMAGES)
    dirs = {s: tmp_path / "stacks" / f"docker-{s}" for s in STACKS}
    for stack in STACKS:
        teardown_stack(dirs[stack], stack)
    yield {"path": path, "tmp": tmp_path, "dirs": dirs, "etherpad_port": etherpad["port"]}
    for stack in STACKS:
        teardown_stack(dirs[stack], stack)


def mariadb(query: str) -> str:
    script = 'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" exec mariadb -uroot -N -B --raw etherpad'
    done = subprocess.run(
        ["docker", "exec", "-i", names("etherpad").container("mariadb"), "sh", "-c", script],
        input=query,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def stackctl(*args: str) -> subprocess.CompletedProcess[str]:
    """stackctl in its own process, as the scripted reinstall runs it."""
    return subprocess.run(
        [sys.executable, "-m", "stackctl", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env=os.environ.copy(),
    )


def subnets() -> dict[str, str]:
    found = {}
    for stack in STACKS:
        network = json.loads(docker("network", "inspect", names(stack).network).stdout)[0]
        found[stack] = network["IPAM"]["Config"][0]["Subnet"]
    return found


def health(stack: str, services: tuple[str, ...]) -> dict[str, str]:
    states = {}
    for service in services:
        state = json.loads(docker("inspect", names(stack).container(service)).stdout)[0]["State"]
        states[service] = state.get("Health", {}).get("Status", state["Status"])
    return states


def test_two_stacks_back_from_one_archive_with_restore_deploy(
    two_stacks, run_cli, tmp_path, capsys
):
    started = time.monotonic()
    deployed = run_cli("deploy", "--all", "--wait", "300")
    assert deployed.exit_code == 0, deployed.stdout + deployed.stderr
    first_deploy = time.monotonic() - started

    # data in: rows in Ente's Postgres, a file in its data folder, pads through Etherpad's API
    psql("CREATE TABLE probe (id int PRIMARY KEY, note text)")
    psql("INSERT INTO probe SELECT g, md5(g::text) FROM generate_series(1, 3000) g")
    museum_file = tmp_path / "data" / "ente" / "museum-data" / "probe.txt"
    museum_file.write_text("a file in Ente's data folder\n")
    pad_site = {"port": two_stacks["etherpad_port"], "dir": two_stacks["dirs"]["etherpad"]}
    for pad, text in PADS.items():
        call(pad_site, "createPad", padID=pad, text=text)
    secrets = {s: (d / ".env").read_bytes() for s, d in two_stacks["dirs"].items()}
    apikey = (two_stacks["dirs"]["etherpad"] / "APIKEY.txt").read_bytes()
    before = subnets()

    pw = tmp_path / "pw"
    pw.write_text(PASSPHRASE + "\n")
    archive = tmp_path / "backups" / "two.tar.zst.age"
    done = run_cli("backup", *STACKS, "--passphrase-file", str(pw), "-o", str(archive), "--json")
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["dumps"] == ["ente/postgres", "etherpad/mariadb"]

    # MariaDB's live folder is not in the archive; its dump is, with the pads in it
    opened = tmp_path / "opened"
    with archive.open("rb") as source:
        manifest = extract(source, Keys(passphrase=PASSPHRASE.encode()), opened)
    assert manifest["stacks"]["etherpad"]["dumps"] == {
        "mariadb": {"method": "mariadb-dump", "member": "dumps/etherpad/mariadb.sql"}
    }
    assert not [m for m in manifest["checksums"] if m.startswith("data/etherpad/")]
    dump = (opened / "dumps" / "etherpad" / "mariadb.sql").read_text()
    assert "CREATE TABLE `store`" in dump
    assert "pad:restore-one" in dump and "Grüße aus dem Pad" in dump
    shutil.rmtree(opened)

    # a fresh server: no container, network, volume, stack folder, data or site config left
    for stack in STACKS:
        teardown_stack(two_stacks["dirs"][stack], stack)
    for folder in ("stacks", "data", "proxyroot"):
        shutil.rmtree(tmp_path / folder, ignore_errors=True)
    two_stacks["path"].unlink()
    for stack in STACKS:
        assert not docker("ps", "-aq", "--filter", f"name={names(stack).project}-").stdout.strip()

    started = time.monotonic()
    restored = stackctl("restore", str(archive), "--passphrase-file", str(pw), "--deploy")
    restore_deploy = time.monotonic() - started
    assert restored.returncode == 0, restored.stdout + restored.stderr
    with capsys.disabled():  # run_cli captures the test's output
        print(
            f"\nEnte + Etherpad/MariaDB: first deploy {first_deploy:.1f} s, "
            f"restore --deploy {restore_deploy:.1f} s"
        )

    assert two_stacks["path"].is_file()  # the site config came back where it was
    assert {s: (d / ".env").read_bytes() for s, d in two_stacks["dirs"].items()} == secrets
    assert (two_stacks["dirs"]["etherpad"] / "APIKEY.txt").read_bytes() == apikey
    assert subnets() == before
    assert psql("SELECT count(*), sum(length(note)) FROM probe") == "3000|96000"
    assert museum_file.read_text() == "a file in Ente's data folder\n"
    for pad, text in PADS.items():
        assert call(pad_site, "getText", padID=pad)["text"] == text + "\n"
    # the dump went into a fresh MariaDB: the Etherpad user and utf8mb4_bin came back with it
    assert (
        mariadb("SELECT COUNT(*) FROM store WHERE `key` IN ('pad:restore-one', 'pad:restore-two')")
        == "2"
    )
    assert "ON `etherpad`.*" in mariadb("SHOW GRANTS FOR 'etherpad'@'%'")
    assert not (two_stacks["dirs"]["etherpad"] / ".stackctl" / "restore" / "mariadb.sql").exists()
    assert health("ente", ("museum", "postgres", "minio")) == dict.fromkeys(
        ("museum", "postgres", "minio"), "healthy"
    )
    assert health("etherpad", ("etherpad", "mariadb")) == {
        "etherpad": "healthy",
        "mariadb": "healthy",
    }
