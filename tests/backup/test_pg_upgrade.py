"""A Postgres major version change on the fake engine: deploy and plan refuse it, reading
the data folder's PG_VERSION; `run STACK pg-upgrade` dumps, loads into the new major on a
fresh folder, compares the rows per table and only then switches, keeping the old folder.

The example recipe's `web` stands in for a Postgres service (backed up as a postgres-dump
of the data folder `db`); the [images] map names the Postgres image it runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackctl import engine as engine_module
from stackctl.apply import plan_to_apply
from stackctl.backup.pg_upgrade import COUNT_ROWS, DATABASES
from stackctl.commands.options import site as load_site
from stackctl.deploy import deploy
from stackctl.engine import ExecResult
from stackctl.engine_fake import FakeEngine
from stackctl.stack import open_stack

from .greeter import greeter_with_dumped_db

DUMP = b"-- pg_dumpall\n" + b"INSERT INTO t VALUES (1);\n" * 1000
OLD, NEW, MINOR = "example/pg:15.4", "example/pg:17.2", "example/pg:15.8"
PGDATA = "/var/lib/postgresql/data"


class Postgres:
    """What the servers answer: two databases, one table each; `new_rows` for the new one."""

    def __init__(self) -> None:
        self.old_rows, self.new_rows = {"public.t": 5, "s.u": 2}, {"public.t": 5, "s.u": 2}

    def __call__(self, container: str, argv: list[str]) -> ExecResult:
        if DATABASES in argv:
            return ExecResult(0, "app\npostgres\n")
        if COUNT_ROWS in argv:
            if argv[argv.index(COUNT_ROWS) - 1] != "app":
                return ExecResult(0, "")
            rows = self.new_rows if container.endswith("-pg17") else self.old_rows
            return ExecResult(0, "".join(f"{t}\t{n}\n" for t, n in rows.items()))
        return ExecResult(0, "")


@pytest.fixture
def world(site_file, tmp_path: Path, monkeypatch) -> Iterator[dict]:
    """A greeter deployed on Postgres 15, its folder `db` written by Postgres 15."""
    recipes = tmp_path / "recipes"
    greeter_with_dumped_db(recipes)
    extra = f'recipe_paths = ["{recipes}"]\n[stacks.greeter]\nport = 18089\n'

    def pin(image: str) -> None:
        site_file(extra=extra, images={"alpine/socat": image})

    pin(OLD)
    answers = Postgres()
    engine = FakeEngine(stream_output=DUMP, on_exec=answers)
    engine.images.update({OLD: "sha256:old", NEW: "sha256:new", MINOR: "sha256:minor"})
    engine.image_envs.update({OLD: {"PG_MAJOR": "15", "PGDATA": PGDATA}, NEW: {"PG_MAJOR": "17"}})
    monkeypatch.setattr(engine_module, "open_engine", lambda: engine)
    stack = open_stack("greeter", load_site())
    deploy(plan_to_apply(stack, engine), engine, wait_seconds=0)
    data = tmp_path / "data" / "greeter" / "db"
    (data / "PG_VERSION").write_text("15\n")
    container = stack.names.container("web")
    engine.inspected[container] = {
        "Mounts": [{"Type": "bind", "Source": str(data), "Destination": PGDATA}],
        "Config": {
            "Image": OLD,
            "Env": ["POSTGRES_PASSWORD=pw", "PGDATA=" + PGDATA, "PATH=/usr/bin", "PG_MAJOR=15"],
        },
    }
    yield {
        "engine": engine,
        "pin": pin,
        "data": data,
        "answers": answers,
        "container": container,
        "compose": tmp_path / "stacks" / "docker-greeter" / "docker-compose.yml",
    }


def kept_folders(data: Path) -> list[Path]:
    return sorted(data.parent.glob("db.pg15-*"))


def test_deploy_refuses_a_major_change_and_names_the_action(run_cli, world):
    world["pin"](NEW)
    engine = world["engine"]
    engine.calls.clear()
    refused = run_cli("deploy", "greeter")
    assert refused.exit_code == 1
    said = " ".join(refused.stderr.split())
    assert "holds Postgres 15, the image example/pg:17.2 runs Postgres 17" in said
    assert "stackctl run greeter pg-upgrade" in said
    assert OLD in world["compose"].read_text()  # nothing was written
    assert "compose_up" not in engine.verbs()


def test_plan_and_a_dry_run_show_the_refusal(run_cli, world):
    world["pin"](NEW)
    (shown,) = json.loads(run_cli("plan", "greeter", "--json").stdout)
    assert shown["postgres_major_changes"] == [
        {
            "service": "web",
            "folder": str(world["data"]),
            "data_major": "15",
            "image_major": "17",
            "image": NEW,
        }
    ]
    dry = run_cli("deploy", "greeter", "--dry-run")
    assert dry.exit_code == 0
    assert "deploy refuses" in " ".join(dry.stderr.split())


def test_a_minor_change_and_a_fresh_folder_pass(run_cli, world):
    world["pin"](MINOR)
    assert run_cli("deploy", "greeter").exit_code == 0
    assert MINOR in world["compose"].read_text()
    (world["data"] / "PG_VERSION").unlink()  # an empty folder: the new major makes it
    world["pin"](NEW)
    done = run_cli("deploy", "greeter")
    assert done.exit_code == 0, done.stderr
    assert NEW in world["compose"].read_text()


def test_the_folder_is_the_truth_not_the_tag(run_cli, world):
    engine = world["engine"]
    engine.images["example/pg:latest"] = "sha256:latest"
    engine.image_envs["example/pg:latest"] = {"PG_MAJOR": "17"}  # the tag says nothing
    world["pin"]("example/pg:latest")
    assert "pg-upgrade" in run_cli("deploy", "greeter").stderr
    (world["data"] / "PG_VERSION").write_text("17\n")  # a folder newer than the image
    world["pin"](MINOR)
    refused = run_cli("deploy", "greeter")
    assert refused.exit_code == 1
    assert "cannot open a folder of a newer major" in " ".join(refused.stderr.split())


def test_pg_upgrade_dumps_loads_compares_switches_and_deploys(run_cli, world):
    engine, data = world["engine"], world["data"]
    (data / "base").mkdir()
    (data / "base" / "1").write_text("old rows")
    world["pin"](NEW)
    engine.calls.clear()
    done = run_cli("run", "--json", "greeter", "pg-upgrade")
    assert done.exit_code == 0, done.stderr
    summary = json.loads(done.stdout[done.stdout.index("{\n") :])
    (kept,) = kept_folders(data)
    assert summary["upgraded"] == [
        {
            "service": "web",
            "from": "15",
            "to": "17",
            "folder": str(data),
            "kept": str(kept),
            "databases": 1,
            "tables": 2,
            "rows": 7,
            "dump_bytes": len(DUMP),
        }
    ]
    # the old folder is kept whole under its new name; the new server's folder took the name
    assert (kept / "PG_VERSION").read_text() == "15\n" and (kept / "base" / "1").exists()
    assert data.is_dir() and not (data / "base").exists()
    assert engine.streamed_in == DUMP  # the dump, streamed into the new server
    temporary = f"{world['container']}-pg17"
    runs = [c for c in engine.calls if c[0] == "run_container"]
    assert runs == [("run_container", temporary, NEW)] and temporary not in engine.runs
    verbs = engine.verbs()
    # dumped from the old server before the new one ran; deployed with the new image after
    assert verbs.index("exec_stream") < verbs.index("run_container")
    assert verbs.index("remove_container", verbs.index("run_container")) < len(verbs)
    assert NEW in world["compose"].read_text()
    assert not list((world["compose"].parent / ".stackctl" / "pg-upgrade").iterdir())
    assert "7 rows in 2 tables of 1 databases equal" in summary["message"]
    assert f"the old folder is kept as {kept}" in summary["message"]


def test_the_new_server_gets_the_folder_and_the_variables_of_the_old(run_cli, world):
    engine = world["engine"]
    world["pin"](NEW)
    seen: dict = {}
    original = engine.run_container

    def run_container(name, image, environment, mounts, labels):  # type: ignore[no-untyped-def]
        seen.update(environment=environment, mounts=mounts)
        original(name, image, environment, mounts, labels)

    engine.run_container = run_container  # type: ignore[method-assign]
    assert run_cli("run", "greeter", "pg-upgrade").exit_code == 0
    fresh = world["data"].with_name("db.pg17-new")
    assert seen["mounts"] == {str(fresh): PGDATA}
    # the contract's variables; not the old image's own PATH, PG_MAJOR and PGDATA
    assert seen["environment"] == {"POSTGRES_PASSWORD": "pw"}


def test_a_row_count_mismatch_switches_nothing_and_names_the_tables(run_cli, world):
    engine, data = world["engine"], world["data"]
    world["answers"].new_rows = {"public.t": 4, "s.u": 2}
    world["pin"](NEW)
    failed = run_cli("run", "greeter", "pg-upgrade")
    assert failed.exit_code == 1
    said = " ".join(failed.stderr.split())
    assert "app/public.t (5 before, 4 after)" in said and "s.u" not in said
    assert "nothing was switched" in said
    assert (data / "PG_VERSION").read_text() == "15\n"
    assert not kept_folders(data) and not data.with_name("db.pg17-new").exists()
    assert not engine.runs  # the one-off server is gone
    assert OLD in world["compose"].read_text()


def test_a_run_killed_before_the_switch_starts_over(run_cli, world):
    engine, data = world["engine"], world["data"]
    fresh = data.with_name("db.pg17-new")
    fresh.mkdir()
    (fresh / "half-loaded").write_text("x")
    temporary = f"{world['container']}-pg17"
    engine.runs[temporary] = (NEW, {}, {})  # the killed run's server
    world["pin"](NEW)
    done = run_cli("run", "greeter", "pg-upgrade")
    assert done.exit_code == 0, done.stderr
    assert not (data / "half-loaded").exists() and not fresh.exists()
    (kept,) = kept_folders(data)
    assert (kept / "PG_VERSION").read_text() == "15\n"


def test_a_run_killed_during_the_switch_finishes_it(run_cli, world):
    data = world["data"]
    kept = data.with_name("db.pg15-20260101-000000")
    fresh = data.with_name("db.pg17-new")
    fresh.mkdir()
    (fresh / "PG_VERSION").write_text("17\n")
    data.rename(kept)  # killed between the two renames
    work = world["compose"].parent / ".stackctl" / "pg-upgrade"
    work.mkdir(parents=True)
    entry = {"folder": str(data), "fresh": str(fresh), "kept": str(kept)}
    (work / "web.switch.json").write_text(json.dumps(entry))
    world["pin"](NEW)
    # a deploy would start Postgres on an empty folder where the data folder is missing
    refused = run_cli("deploy", "greeter")
    assert refused.exit_code == 1 and "stopped while it switched" in refused.stderr
    assert not data.exists()
    done = run_cli("run", "greeter", "pg-upgrade")
    assert done.exit_code == 0, done.stderr
    assert (data / "PG_VERSION").read_text() == "17\n"
    assert (kept / "PG_VERSION").read_text() == "15\n" and not fresh.exists()
    assert not (work / "web.switch.json").exists()
    assert NEW in world["compose"].read_text()


def test_every_recipe_with_a_postgres_dump_has_the_action():
    from stackctl.recipe import all_recipes

    for recipe in all_recipes().values():
        dumped = any(s.backup and s.backup.method == "postgres-dump" for s in recipe.services)
        has = any(a.name == "pg-upgrade" for a in recipe.actions)
        assert has == dumped, recipe.name
