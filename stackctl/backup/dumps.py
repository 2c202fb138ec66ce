"""The commands that stream a database out of its container, and back into a fresh one.

Both run inside the database's own container (its client matches its server), reading
the admin credentials from the container's environment, so no secret is on a command line.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from stackctl.backup.spec import BackupSpec
from stackctl.errors import EngineError

if TYPE_CHECKING:
    from stackctl.engine import Engine

SUFFIX = ".sql"


def postgres_user(spec: BackupSpec) -> str:
    variable = spec.user_env or "POSTGRES_USER"
    return f'"${{{variable}:-postgres}}"'


def _mariadb_password(spec: BackupSpec) -> str:
    return f'MYSQL_PWD="${{{spec.password_env or "MARIADB_ROOT_PASSWORD"}}}"'


def dump_argv(spec: BackupSpec) -> list[str]:
    if spec.method == "postgres-dump":
        # every database with its roles, owners and collations; --clean lets the load
        # replace the empty databases a fresh server starts with
        script = f"exec pg_dumpall --clean --if-exists -U {postgres_user(spec)}"
    elif spec.method == "mariadb-dump":
        script = f"export {_mariadb_password(spec)}\n{_MARIADB_DUMP}"
    else:
        raise ValueError(f"{spec.method} is not a dump")
    return ["sh", "-c", script]


# MariaDB's own `mysql` database stays the fresh server's: a copy of its account tables
# would give the image's healthcheck account the old server's random password (the fresh
# one's is in its data folder), and takes effect only after a FLUSH PRIVILEGES. What the
# apps need comes as SQL instead: their accounts (not root, which the image makes from the
# same secret, nor the image's own) as CREATE USER and GRANT, then their databases.
_MARIADB_DUMP = """set -e
q() { mariadb -uroot -N -B --raw -e "$1"; }
accounts=$(q "SELECT CONCAT(QUOTE(User), '@', QUOTE(Host)) FROM mysql.user WHERE is_role = 'N' AND User NOT IN ('', 'root', 'healthcheck', 'mariadb.sys', 'mysql')")
for account in $accounts; do
  q "SHOW CREATE USER $account" | sed 's/^CREATE USER /CREATE USER IF NOT EXISTS /; s/$/;/'
  q "SHOW GRANTS FOR $account" | sed 's/$/;/'
done
databases=$(q "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN ('mysql', 'sys', 'information_schema', 'performance_schema')")
[ -n "$databases" ] || exit 0
exec mariadb-dump -uroot --single-transaction --routines --events --triggers --databases $databases"""


def load_argv(spec: BackupSpec) -> list[str]:
    if spec.method == "postgres-dump":
        # the roles and database the image made at start exist already: those lines fail
        # and psql goes on, as pg_dumpall's own restore advice expects
        script = f"exec psql -q -X -v ON_ERROR_STOP=0 -U {postgres_user(spec)} -d postgres"
    elif spec.method == "mariadb-dump":
        script = f"{_mariadb_password(spec)} exec mariadb -uroot"
    else:
        raise ValueError(f"{spec.method} is not a dump")
    return ["sh", "-c", script]


def ready_argv(spec: BackupSpec) -> list[str]:
    """Succeeds once the server takes TCP connections: the images' first start runs a
    temporary server on the socket only, and stops it again after their init scripts."""
    if spec.method == "postgres-dump":
        script = f"exec pg_isready -q -h 127.0.0.1 -U {postgres_user(spec)}"
    elif spec.method == "mariadb-dump":
        script = f"{_mariadb_password(spec)} exec mariadb-admin -uroot -h 127.0.0.1 ping"
    else:
        raise ValueError(f"{spec.method} is not a dump")
    return ["sh", "-c", script]


def wait_until_ready(
    engine: Engine, container: str, spec: BackupSpec, wait_seconds: int, meanwhile: str
) -> None:
    """Poll the database server in `container` until it takes connections, or fail with
    a hint that ends with `meanwhile` (what was kept or left as it was)."""
    argv = ready_argv(spec)
    deadline = time.monotonic() + max(wait_seconds, 1)
    while engine.exec(container, argv).exit_code != 0:
        if time.monotonic() > deadline:
            raise EngineError(
                f"{container} did not accept connections within {wait_seconds} s",
                f"see `docker logs {container}`; {meanwhile}",
            )
        time.sleep(0.5)
