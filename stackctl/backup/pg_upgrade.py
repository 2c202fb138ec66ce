"""`stackctl run STACK pg-upgrade`: move Postgres data folders to the major of their image.

Postgres opens only data folders of its own major, so deploy refuses to start a new major
on an old folder (stackctl/backup/pg_major.py). For each such folder this:

1. stops the app's containers, so nothing writes between the dump and the switch, and
   runs the old server on its folder (the compose file on disk still names its image);
2. streams `pg_dumpall` out of it into `<stack>/.stackctl/pg-upgrade/<service>.sql`, and
   counts the rows of every table of every database;
3. starts the new image, with no network, on a fresh folder beside the old one
   (`<folder>.pg<NEW>-new`), streams the dump in and counts again;
4. only when every count is equal, stops both servers and switches: the old folder becomes
   `<folder>.pg<OLD>-<date>`, kept until the user removes it, and the fresh one takes its
   name. A journal file (`<service>.switch.json`) makes the two renames finish when a run
   is killed between them.

The caller then deploys as usual, with the new image. A run killed before the switch
starts over: the fresh folder and the one-off server are made again from the old folder,
which nothing changed.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from stackctl import console
from stackctl.backup import dumps
from stackctl.backup.pg_major import MajorChange, refusal
from stackctl.errors import EngineError, StackctlError
from stackctl.state import STATE_DIR

if TYPE_CHECKING:
    from stackctl.backup.spec import BackupSpec
    from stackctl.engine import Engine
    from stackctl.stack import Stack

WORK = "pg-upgrade"  # under the stack's .stackctl/
# every table (partitioned ones too) of every schema but the catalogs, with its exact count
COUNT_ROWS = (
    "SELECT format('%I.%I', n.nspname, c.relname), (xpath('/row/n/text()', query_to_xml("
    "format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]"
    "::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' "
    "AND n.nspname !~ '^pg_' ORDER BY 1"
)
DATABASES = "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1"


@dataclass(frozen=True)
class Upgraded:
    """What a Postgres major upgrade did: versions, folders, and the counts compared."""

    service: str
    old_major: str
    new_major: str
    folder: Path
    kept: Path  # the old folder, under its new name
    databases: int
    tables: int
    rows: int
    dump_bytes: int

    def as_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "from": self.old_major,
            "to": self.new_major,
            "folder": str(self.folder),
            "kept": str(self.kept),
            "databases": self.databases,
            "tables": self.tables,
            "rows": self.rows,
            "dump_bytes": self.dump_bytes,
        }


def work_dir(stack: Stack) -> Path:
    return stack.dir / STATE_DIR / WORK


def upgrade_folders(
    stack: Stack, engine: Engine, changes: list[MajorChange], wait_seconds: int
) -> list[Upgraded]:
    """Upgrade every changed folder; the caller holds the stack's lock and deploys after."""
    older = [c for c in changes if not c.upgrade]
    if older:
        raise refusal(stack.name, older)
    work = work_dir(stack)
    work.mkdir(parents=True, exist_ok=True, mode=0o700)
    _stop_the_app(stack, engine, {c.service for c in changes})
    return [_upgrade_one(stack, engine, change, work, wait_seconds) for change in changes]


def finish_switches(stack: Stack) -> list[str]:
    """Finish the folder switches a killed run left halfway; the folders it names."""
    finished = []
    work = work_dir(stack)
    for journal in sorted(work.glob("*.switch.json")) if work.is_dir() else ():
        entry = json.loads(journal.read_text(encoding="utf-8"))
        _switch(Path(entry["folder"]), Path(entry["fresh"]), Path(entry["kept"]), journal)
        finished.append(entry["folder"])
    return finished


def _stop_the_app(stack: Stack, engine: Engine, databases: set[str]) -> None:
    running = [
        c.name
        for c in engine.project_containers(stack.names.project)
        if c.service not in databases and c.state == "running"
    ]
    if running:
        console.step(f"stopping {', '.join(running)}, so nothing writes during the upgrade")
    for name in running:
        engine.stop_container(name)


def _upgrade_one(
    stack: Stack, engine: Engine, change: MajorChange, work: Path, wait_seconds: int
) -> Upgraded:
    spec = stack.recipe.service(change.service).backup
    assert spec is not None
    old = _old_server(stack, engine, change, spec, wait_seconds)
    mounts, environment = _server_config(engine, old, change.folder, spec)
    dump = work / f"{change.service}{dumps.SUFFIX}"
    what = f"{change.service} (Postgres {change.data_major})"
    size = _dump(engine, old, spec, dump, what)
    before = count_rows(engine, old, spec)

    fresh = change.folder.with_name(f"{change.folder.name}.pg{change.image_major}-new")
    temporary = f"{old}-pg{change.image_major}"
    engine.remove_container(temporary)  # a killed run's
    if fresh.exists():
        shutil.rmtree(fresh)
    fresh.mkdir(mode=0o700)
    from stackctl.pull import pull_missing

    pull_missing(engine, {change.service: change.image})
    new_mounts = {
        str(fresh) if m == str(change.folder) else m: inside for m, inside in mounts.items()
    }
    console.step(f"starting Postgres {change.image_major} ({change.image}) on {fresh}")
    engine.run_container(temporary, change.image, environment, new_mounts, stack.names.labels)
    try:
        dumps.wait_until_ready(engine, temporary, spec, wait_seconds, "nothing was switched")
        _load(engine, temporary, spec, dump, f"{change.service} into Postgres {change.image_major}")
        after = count_rows(engine, temporary, spec)
        differing = compare_counts(before, after)
        if differing:
            raise StackctlError(
                f"{stack.name}'s {change.service}: the rows differ after loading into Postgres "
                f"{change.image_major}: {', '.join(differing)}; nothing was switched",
                f"{change.folder} is untouched; the dump stays in {dump}. Set the image back "
                f"to Postgres {change.data_major} and `stackctl deploy {stack.name}` to start "
                "the app again",
            )
    except BaseException:
        engine.remove_container(temporary)
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    engine.remove_container(temporary)  # a clean stop: the folder is complete on disk
    engine.stop_container(old)
    kept = change.folder.with_name(
        f"{change.folder.name}.pg{change.data_major}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    journal = work / f"{change.service}.switch.json"
    _write_journal(journal, change.folder, fresh, kept)
    _switch(change.folder, fresh, kept, journal)
    dump.unlink()
    return Upgraded(
        change.service,
        change.data_major,
        change.image_major,
        change.folder,
        kept,
        databases=len({key.split("/", 1)[0] for key in before}),
        tables=len(before),
        rows=sum(before.values()),
        dump_bytes=size,
    )


def _old_server(
    stack: Stack, engine: Engine, change: MajorChange, spec: BackupSpec, wait_seconds: int
) -> str:
    """The old server's container, started from the compose file on disk when it is down."""
    container = stack.names.container(change.service)
    found = {c.service: c for c in engine.project_containers(stack.names.project)}
    if change.service not in found or found[change.service].state != "running":
        console.step(f"starting {change.service} on its Postgres {change.data_major} folder")
        try:
            engine.compose_up(
                stack.dir, stack.names.project, [change.service], wait_seconds=wait_seconds
            )
        except EngineError as exc:
            raise EngineError(
                f"the Postgres {change.data_major} server of {stack.name} did not start: "
                f"{exc.message}",
                f"{stack.dir}/docker-compose.yml must still name a Postgres "
                f"{change.data_major} image for the dump; see `docker logs {container}`",
            ) from exc
    dumps.wait_until_ready(engine, container, spec, wait_seconds, "nothing was switched")
    return container


def _server_config(
    engine: Engine, container: str, folder: Path, spec: BackupSpec
) -> tuple[dict[str, str], dict[str, str]]:
    """The old server's bind mounts (host -> container path) and the variables the image
    contract reads (POSTGRES_*, a PGDATA of the recipe's), for the new server."""
    inspected = engine.container(container) or {}
    mounts = {
        str(m["Source"]): str(m["Destination"])
        for m in inspected.get("Mounts") or ()
        if m.get("Type", "bind") == "bind"
    }
    ours = [source for source in mounts if Path(source).resolve() == folder.resolve()]
    if not ours:
        raise StackctlError(
            f"{container} does not mount the data folder {folder}",
            "is the stack deployed from this folder? `stackctl status` shows it",
        )
    mounts = {str(folder) if m in ours else m: inside for m, inside in mounts.items()}
    wanted = ("PGDATA", *([spec.user_env] if spec.user_env else ()))
    environment = {}
    for pair in (inspected.get("Config") or {}).get("Env") or ():
        key, _, value = pair.partition("=")
        if key.startswith("POSTGRES_") or key in wanted:
            environment[key] = value
    image_pgdata = (engine.image_env(str((inspected.get("Config") or {}).get("Image"))) or {}).get(
        "PGDATA"
    )
    if environment.get("PGDATA") == image_pgdata:  # the old image's own default: not ours
        environment.pop("PGDATA")
    return mounts, environment


def _dump(engine: Engine, container: str, spec: BackupSpec, dump: Path, what: str) -> int:
    from stackctl.backup.progress import bytes_bar

    fd = os.open(dump, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file, bytes_bar(f"dumping {what}") as progress:
        counted = _Counting(file, progress)
        code = engine.exec_stream(container, dumps.dump_argv(spec), None, counted)  # type: ignore[arg-type]
    if code != 0:
        raise EngineError(
            f"the dump of {container} failed (exit {code})",
            f"see `docker logs {container}`; nothing was changed",
        )
    console.step(f"dumped {what}: {dump.stat().st_size} bytes")
    return dump.stat().st_size


def _load(engine: Engine, container: str, spec: BackupSpec, dump: Path, what: str) -> None:
    from stackctl.backup.progress import bytes_bar

    with dump.open("rb") as source, bytes_bar(f"loading {what}") as progress:
        code = engine.exec_stream(
            container,
            dumps.load_argv(spec),
            _Counting(source, progress),  # type: ignore[arg-type]
            _Discard(),  # type: ignore[arg-type]
        )
    if code != 0:
        raise EngineError(
            f"loading the dump into {container} failed (exit {code})",
            f"see `docker logs {container}`; nothing was switched",
        )
    console.step(f"loaded {what}")


def count_rows(engine: Engine, container: str, spec: BackupSpec) -> dict[str, int]:
    """`database/schema.table` -> its exact row count, for every table of every database."""
    user = dumps.postgres_user(spec)
    query = f'exec psql -X -A -t -F "$3" -v ON_ERROR_STOP=1 -U {user} -d "$1" -c "$2"'

    def psql(database: str, sql: str) -> list[list[str]]:
        done = engine.exec(container, ["sh", "-c", query, "sh", database, sql, "\t"])
        if done.exit_code != 0:
            raise EngineError(
                f"counting the rows in {container} failed (exit {done.exit_code})",
                done.output.strip()[-300:] or f"see `docker logs {container}`",
            )
        return [line.split("\t") for line in done.output.splitlines() if line.strip()]

    counts = {}
    for (database,) in psql("postgres", DATABASES):
        for table, rows in psql(database, COUNT_ROWS):
            counts[f"{database}/{table}"] = int(rows)
    return counts


def compare_counts(before: dict[str, int], after: dict[str, int]) -> list[str]:
    """Every table whose count differs (or that one side lacks), with both counts."""
    return [
        f"{table} ({before.get(table, 'missing')} before, {after.get(table, 'missing')} after)"
        for table in sorted({*before, *after})
        if before.get(table) != after.get(table)
    ]


def _write_journal(journal: Path, folder: Path, fresh: Path, kept: Path) -> None:
    partial = journal.with_name(journal.name + ".partial")
    entry = {"folder": str(folder), "fresh": str(fresh), "kept": str(kept)}
    partial.write_text(json.dumps(entry) + "\n", encoding="utf-8")
    os.replace(partial, journal)


def _switch(folder: Path, fresh: Path, kept: Path, journal: Path) -> None:
    """Old folder aside, fresh one in its place; each rename is done once, in this order."""
    if folder.exists() and not kept.exists() and fresh.exists():
        os.rename(folder, kept)
    if fresh.exists() and not folder.exists():
        os.rename(fresh, folder)
    journal.unlink()


class _Counting:
    """A file whose reads and writes are counted for the progress bar, never held."""

    def __init__(self, file: IO[bytes], progress: Callable[[int], None]) -> None:
        self._file, self._progress = file, progress

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        self._progress(len(data))
        return data

    def write(self, data: bytes) -> int:
        self._progress(len(data))
        return self._file.write(data)

    def flush(self) -> None:
        self._file.flush()


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)

    def flush(self) -> None:
        pass
