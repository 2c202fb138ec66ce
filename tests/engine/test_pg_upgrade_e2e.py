"""A Postgres major upgrade on a real engine: Ente on Postgres 15 (Debian bookworm's), with
rows in two databases and two schemas, moved to Postgres 17 (Debian trixie's).

Deploy refuses the new pin; `run ente pg-upgrade` dumps, loads into 17 on a fresh folder,
compares the rows, switches (keeping the 15 folder) and deploys; museum (the engine tests'
stand-in) is healthy on the new server and every row is there.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import TEST_IMAGES

from .conftest import POSTGRES_NEXT, docker, names
from .test_ente_e2e import deploy_json, inspect

NAMES = names("ente")
DB = NAMES.container("postgres")

pytestmark = pytest.mark.engine


def psql(sql: str, database: str = "$POSTGRES_DB") -> str:
    script = f'psql -qtA -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "{database}" -c "{sql}"'
    done = docker("exec", DB, "sh", "-c", script)
    return done.stdout.strip()


def pin_next(ente_site: dict) -> None:
    site = ente_site["path"]
    site.write_text(site.read_text().replace(TEST_IMAGES["postgres"], POSTGRES_NEXT))


def test_a_major_change_is_refused_then_upgraded(ente_site, run_cli, capsys):
    deploy_json(run_cli)
    psql("CREATE TABLE probe (id int PRIMARY KEY, note text)")
    psql("INSERT INTO probe SELECT g, md5(g::text) FROM generate_series(1, 20000) g")
    psql('CREATE SCHEMA extra; CREATE TABLE extra.\\"Mixed Case\\" (v int)')
    psql('INSERT INTO extra.\\"Mixed Case\\" SELECT generate_series(1, 7)')
    psql("CREATE DATABASE second")
    psql("CREATE TABLE t2 AS SELECT generate_series(1, 300) AS n", database="second")
    before = {
        "probe": psql("SELECT count(*), sum(length(note)) FROM probe"),
        "mixed": psql('SELECT count(*) FROM extra.\\"Mixed Case\\"'),
        "second": psql("SELECT sum(n) FROM t2", database="second"),
    }
    assert psql("SHOW server_version").startswith("15.")
    folder = ente_site["data"] / "postgres-data"

    pin_next(ente_site)
    refused = run_cli("deploy", "ente")
    assert refused.exit_code == 1
    said = " ".join(refused.stderr.split())
    assert "holds Postgres 15" in said and "runs Postgres 17" in said
    assert "stackctl run ente pg-upgrade" in said
    assert psql("SHOW server_version").startswith("15.")  # nothing was touched

    started = time.monotonic()
    try:
        done = run_cli("run", "--json", "ente", "pg-upgrade")
    finally:
        docker("rm", "-f", f"{DB}-pg17", check=False)  # only if the run failed halfway
    took = time.monotonic() - started
    assert done.exit_code == 0, done.stderr
    summary = json.loads(done.stdout[done.stdout.rindex("\n{\n") :])
    (upgraded,) = summary["upgraded"]
    with capsys.disabled():  # run_cli captures the test's output
        print(
            f"pg-upgrade 15 -> 17: {upgraded['rows']} rows in {upgraded['tables']} tables of "
            f"{upgraded['databases']} databases, dump {upgraded['dump_bytes']} bytes, {took:.1f} s"
        )
    assert (upgraded["from"], upgraded["to"]) == ("15", "17")
    assert upgraded["databases"] == 2 and upgraded["rows"] >= 20000 + 7 + 300

    assert psql("SHOW server_version").startswith("17.")
    assert inspect(DB)["Config"]["Image"] == POSTGRES_NEXT
    assert psql("SELECT count(*), sum(length(note)) FROM probe") == before["probe"]
    assert psql('SELECT count(*) FROM extra.\\"Mixed Case\\"') == before["mixed"]
    assert psql("SELECT sum(n) FROM t2", database="second") == before["second"]
    kept = folder.with_name(upgraded["kept"].rsplit("/", 1)[-1])
    assert (kept / "PG_VERSION").read_text().strip() == "15"
    assert (folder / "PG_VERSION").read_text().strip() == "17"
    assert not folder.with_name("postgres-data.pg17-new").exists()
    assert docker("ps", "-aq", "--filter", f"name={DB}-pg17").stdout.strip() == ""
    museum = inspect(NAMES.container("museum"))["State"]
    assert museum["Running"] and museum["Health"]["Status"] == "healthy"

    again = deploy_json(run_cli)  # the new pin now deploys as usual, changing nothing
    assert not again["containers_changed"]


def test_an_upgrade_killed_while_loading_starts_over(ente_site, run_cli, capsys):
    deploy_json(run_cli)
    psql(
        "CREATE TABLE probe AS SELECT g AS id, md5(g::text) AS note FROM generate_series(1, 50000) g"
    )
    before = psql("SELECT count(*), sum(length(note)) FROM probe")
    folder = ente_site["data"] / "postgres-data"
    pin_next(ente_site)
    temporary = f"{DB}-pg17"
    command = [sys.executable, "-m", "stackctl", "run", "ente", "pg-upgrade"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if docker("ps", "-q", "--filter", f"name={temporary}").stdout.strip():
                break  # the new server runs: the dump is being loaded, or about to be
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
        left = bool(docker("ps", "-aq", "--filter", f"name={temporary}").stdout.strip())
        with capsys.disabled():  # run_cli captures the test's output
            print(f"pg-upgrade killed {'with its new server running' if left else 'before it'}")
        assert left, "the run ended before the new server started: nothing was interrupted"
        assert (folder / "PG_VERSION").read_text().strip() == "15"  # untouched
        done = run_cli("run", "ente", "pg-upgrade")
    finally:
        docker("rm", "-f", temporary, check=False)
    assert done.exit_code == 0, done.stderr
    assert psql("SHOW server_version").startswith("17.")
    assert psql("SELECT count(*), sum(length(note)) FROM probe") == before
    assert len(list(folder.parent.glob("postgres-data.pg15-*"))) == 1
    assert not folder.with_name("postgres-data.pg17-new").exists()
    assert not docker("ps", "-aq", "--filter", f"name={temporary}").stdout.strip()
