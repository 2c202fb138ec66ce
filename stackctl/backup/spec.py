"""How a recipe says each service is backed up: `[services.<name>.backup]`.

A database is dumped out of its running container and loaded into a fresh one, never
copied as a live folder; an S3 server's buckets are read and written back through the S3
API (`s3-objects`, naming its `s3-buckets` step), never as its folder; other data folders
are copied as files, with the service stopped
where a live copy would be torn (SQLite), or left out (caches, search indexes). Every data
folder a recipe declares is claimed by exactly one service, so nothing is forgotten.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stackctl import schema

_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# method -> what it does with the service's data folders
METHODS = {
    "postgres-dump": "pg_dumpall out of the running container; loaded into a fresh one",
    "mariadb-dump": "mariadb-dump --single-transaction out of the running container",
    "s3-objects": "every object of its buckets through the S3 API; put back before the app starts",
    "files": "the data folders, copied while the service runs",
    "files-stopped": "the data folders, copied with the service stopped",
    "exclude": "nothing: the data can be rebuilt (caches, indexes, transcodes)",
}
DUMP_METHODS = ("postgres-dump", "mariadb-dump")
OPTIONS: schema.Schema = {
    "method": schema.required(str),
    "data": schema.optional(list),  # the recipe's data_dirs this service owns
    "exclude": schema.optional(list),  # data_dirs it owns that are left out (logs, caches)
    "user_env": schema.optional(str),  # dumps: the container variable naming the admin user
    "password_env": schema.optional(str),  # mariadb-dump: the variable holding its password
    # s3-objects: the `s3-buckets` bootstrap step whose server, credentials and buckets it uses
    "step": schema.optional(str),
    "buckets": schema.optional(list),  # s3-objects: some of that step's buckets (default: all)
}


@dataclass(frozen=True)
class BackupSpec:
    """How one service's data is backed up: its method, data folder and credentials."""

    method: str
    data: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    user_env: str = ""
    password_env: str = ""
    step: str = ""
    buckets: tuple[str, ...] = ()

    @property
    def is_dump(self) -> bool:
        return self.method in DUMP_METHODS


def parse(raw: Mapping[str, Any] | None) -> BackupSpec | None:
    if raw is None:
        return None
    return BackupSpec(
        method=str(raw["method"]),
        data=tuple(str(d) for d in raw.get("data", ())),
        exclude=tuple(str(d) for d in raw.get("exclude", ())),
        user_env=str(raw.get("user_env", "")),
        password_env=str(raw.get("password_env", "")),
        step=str(raw.get("step", "")),
        buckets=tuple(str(b) for b in raw.get("buckets", ())),
    )


def check(raw: Mapping[str, Any], problem: Callable[[str, str], None]) -> None:
    """Every problem with the services' backup tables and the data folders they claim."""
    owners: dict[str, str] = {}
    bucket_owners: dict[str, str] = {}
    data_dirs = [str(d) for d in raw.get("data_dirs", ())]
    for name, service in (raw.get("services") or {}).items():
        table = service.get("backup") if isinstance(service, Mapping) else None
        if table is None:
            continue
        where = f"services.{name}.backup"
        if not isinstance(table, Mapping):
            problem(where, "must be a table: { method = ... }")
            continue
        for key, message in schema.problems(table, OPTIONS):
            problem(f"{where}.{key}", message)
        method = table.get("method")
        if isinstance(method, str) and method not in METHODS:
            problem(f"{where}.method", f"unknown method {method!r} (known: {', '.join(METHODS)})")
        if method not in ("mariadb-dump",) and "password_env" in table:
            problem(f"{where}.password_env", "only a mariadb-dump takes a password variable")
        if method == "exclude" and table.get("data"):
            problem(
                f"{where}.data", "an excluded service keeps nothing: list its folders in `exclude`"
            )
        if method != "postgres-dump" and "user_env" in table:
            problem(f"{where}.user_env", "only a postgres-dump takes a user variable")
        _check_s3(raw, name, table, where, problem, bucket_owners)
        for key in ("user_env", "password_env"):
            if isinstance(table.get(key), str) and not _VARIABLE.match(table[key]):
                problem(f"{where}.{key}", "must be an environment variable name")
        claimed = [(k, f) for k in ("data", "exclude") for f in _list(table.get(k))]
        for key, folder in claimed:
            if folder not in data_dirs:
                problem(f"{where}.{key}", f"names no data folder {folder!r} of data_dirs")
            elif folder in owners:
                problem(f"{where}.{key}", f"{folder!r} is claimed by {owners[folder]} too")
            else:
                owners[folder] = name
    for folder in data_dirs:
        if folder not in owners:
            problem(
                f"data_dirs[{folder}]",
                "no service's backup claims it: add it to a service's `backup.data` "
                f"(methods: {', '.join(METHODS)})",
            )


def _check_s3(
    raw: Mapping[str, Any],
    service: str,
    table: Mapping[str, Any],
    where: str,
    problem: Callable[[str, str], None],
    bucket_owners: dict[str, str],
) -> None:
    """An `s3-objects` service names the `s3-buckets` step of its own S3 server."""
    if table.get("method") != "s3-objects":
        for key in ("step", "buckets"):
            if key in table:
                problem(f"{where}.{key}", "only an s3-objects backup takes it")
        return
    if not isinstance(table.get("step"), str):
        problem(
            f"{where}.step", "required: the id of the s3-buckets bootstrap step of this service"
        )
        return
    steps = {s.get("id"): s for s in raw.get("bootstrap", ()) if isinstance(s, Mapping)}
    step = steps.get(table["step"])
    if step is None or step.get("kind") != "s3-buckets" or step.get("service") != service:
        problem(
            f"{where}.step",
            f"names no s3-buckets bootstrap step of {service}: {table['step']!r}",
        )
        return
    known = [str(b) for b in _list(step.get("buckets"))]
    for bucket in _list(table.get("buckets")) or known:
        if bucket not in known:
            problem(f"{where}.buckets", f"{bucket!r} is not among step {table['step']}'s buckets")
        elif bucket in bucket_owners:
            problem(f"{where}.buckets", f"{bucket!r} is backed up by {bucket_owners[bucket]} too")
        else:
            bucket_owners[bucket] = service


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
