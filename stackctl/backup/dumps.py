"""The commands that stream a database out of its container, and back into a fresh one.

Both run inside the database's own container (its client matches its server), reading
the admin credentials from the container's environment, so no secret is on a command line.
"""

from __future__ import annotations

from stackctl.backup.spec import BackupSpec

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
        script = (
            f"{_mariadb_password(spec)} exec mariadb-dump -uroot --all-databases "
            "--single-transaction --routines --events --triggers"
        )
    else:
        raise ValueError(f"{spec.method} is not a dump")
    return ["sh", "-c", script]


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
