"""`mysql-database`: an application's database and user in a MySQL or MariaDB service.

Works through the client inside the database container, as root with the root password the
container already holds in its environment, so no port is published and no client is needed
on the host. The SQL goes in on stdin: the application's password is never on a command
line. Idempotent: a database, user and grants that are already there are left alone, so a
deploy killed halfway through simply runs it again.

    [[bootstrap]]
    kind = "mysql-database"
    phase = "before-up"
    start = ["db"]
    service = "db"
    database = "{{ settings.db_name }}"
    user = "{{ settings.db_user }}"
    password_secret = "DB_PASS"
    grants = ["CREATE", "ALTER", "SELECT", "INSERT", "UPDATE", "DELETE"]
    charset = "utf8mb4"              # optional, the default
    collation = "utf8mb4_bin"        # optional; default: the charset's default collation
    root_password_env = "MARIADB_ROOT_PASSWORD"   # optional, the default
    client = "mariadb"               # optional; "mysql" for MySQL images
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import time
from typing import TYPE_CHECKING, Any

from stackctl.errors import RecipeError, StackctlError
from stackctl.schema import optional, required
from stackctl.steps import container_name, step_kind

if TYPE_CHECKING:
    from collections.abc import Mapping

    from stackctl.engine import Engine
    from stackctl.recipe import Step
    from stackctl.steps import StepContext

# Privileges a recipe may grant on its own database; anything else is refused at run time.
PRIVILEGES = {
    "ALL PRIVILEGES",
    "ALTER",
    "ALTER ROUTINE",
    "CREATE",
    "CREATE ROUTINE",
    "CREATE TEMPORARY TABLES",
    "CREATE VIEW",
    "DELETE",
    "DROP",
    "EVENT",
    "EXECUTE",
    "INDEX",
    "INSERT",
    "LOCK TABLES",
    "REFERENCES",
    "SELECT",
    "SHOW VIEW",
    "TRIGGER",
    "UPDATE",
}
_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_HOST = re.compile(r"^[A-Za-z0-9_.%:\-]{1,255}$")
# the client's words for a server that is not (yet) accepting connections
_NOT_READY = ("can't connect", "lost connection", "server has gone away", "(2002)", "(2013)")
WAIT_SECONDS = 60


def literal(text: str) -> str:
    """An SQL string literal for MySQL/MariaDB (backslashes escape there)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def native_password_hash(password: str) -> str:
    """What mysql_native_password stores: '*' + upper hex SHA1(SHA1(password))."""
    inner = hashlib.sha1(password.encode()).digest()
    return "*" + hashlib.sha1(inner).hexdigest().upper()


def _name(value: str, what: str, step: Step) -> str:
    if not _NAME.fullmatch(value):
        raise RecipeError(f"step {step.id}: {what} {value!r} must be 1-64 letters, digits or _")
    return value


def options(step: Step, ctx: StepContext) -> dict[str, Any]:
    from stackctl.render import expand

    context = ctx.stack.context()
    opts = {
        k: expand(ctx.stack.recipe, v, context) if isinstance(v, str) else v
        for k, v in step.options.items()
    }
    _name(opts["database"], "database", step)
    _name(opts["user"], "user", step)
    env = opts.setdefault("root_password_env", "MARIADB_ROOT_PASSWORD")
    if not _ENV_NAME.fullmatch(env):
        raise RecipeError(f"step {step.id}: root_password_env {env!r} is not a variable name")
    if not _HOST.fullmatch(opts.setdefault("host", "%")):
        raise RecipeError(f"step {step.id}: host {opts['host']!r} is not a MySQL host pattern")
    opts["charset"] = _name(opts.get("charset", "utf8mb4"), "charset", step)
    if opts.get("collation"):
        _name(opts["collation"], "collation", step)
    grants = [" ".join(str(g).upper().split()) for g in opts.get("grants", ["ALL PRIVILEGES"])]
    unknown = [g for g in grants if g not in PRIVILEGES]
    if unknown or not grants:
        raise RecipeError(
            f"step {step.id}: grants {unknown or grants} are not database privileges",
            "known: " + ", ".join(sorted(PRIVILEGES)),
        )
    opts["grants"] = grants
    return opts


def run_sql(
    engine: Engine, container: str, sql: str, opts: Mapping[str, Any], wait_seconds: float
) -> str:
    """Run SQL as root (password from the container's environment); tab-separated output.

    Retries while the server does not accept connections yet.
    """
    client = opts.get("client", "mariadb")
    if not _NAME.fullmatch(client):
        raise RecipeError(f"client {client!r} is not a program name")
    env = opts["root_password_env"]
    script = (
        f'MYSQL_PWD="${env}" exec {client} --user=root --batch --skip-column-names '
        "--default-character-set=utf8mb4 2>&1"
    )
    deadline = time.monotonic() + wait_seconds
    while True:
        out = io.BytesIO()
        code = engine.exec_stream(container, ["sh", "-c", script], io.BytesIO(sql.encode()), out)
        text = out.getvalue().decode(errors="replace").strip()
        if code == 0:
            return text
        if not any(m in text.lower() for m in _NOT_READY) or time.monotonic() > deadline:
            raise StackctlError(
                f"{client} in {container} failed: {text[-500:]}",
                f"check the database with `docker logs {container}`",
            )
        time.sleep(1)


def _found(engine: Engine, container: str, opts: Mapping[str, Any], wait: float) -> list[str]:
    """[database charset, user's stored password, grants...], '' where missing."""
    db, user, host = literal(opts["database"]), literal(opts["user"]), literal(opts["host"])
    rows = run_sql(
        engine,
        container,
        "SELECT (SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA "
        f"WHERE SCHEMA_NAME = {db}), "
        f"(SELECT authentication_string FROM mysql.user WHERE User = {user} AND Host = {host});\n",
        opts,
        wait,
    )
    charset, stored = (rows.split("\t") + ["", ""])[:2]
    return [
        "" if charset == "NULL" else charset,
        "" if stored == "NULL" else stored,
    ]


def _grants(engine: Engine, container: str, opts: Mapping[str, Any], wait: float) -> set[str]:
    """The privileges the user holds on the database, as SHOW GRANTS names them."""
    text = run_sql(
        engine,
        container,
        f"SHOW GRANTS FOR {literal(opts['user'])}@{literal(opts['host'])};\n",
        opts,
        wait,
    )
    target = f"ON `{opts['database']}`.*"
    held: set[str] = set()
    for line in text.splitlines():
        if target in line and line.startswith("GRANT "):
            privileges = line[len("GRANT ") : line.index(target)]
            held |= {p.strip() for p in privileges.split(",")}
    return held


@step_kind(
    "mysql-database",
    {
        "service": optional(str),
        "database": required(str),
        "user": required(str),
        "password_secret": required(str),
        "host": optional(str),
        "grants": optional(list),
        "charset": optional(str),
        "collation": optional(str),
        "root_password_env": optional(str),
        "client": optional(str),
        "wait_seconds": optional(int, float),
    },
)
def mysql_database(step: Step, ctx: StepContext) -> tuple[bool, str]:
    opts = options(step, ctx)
    container = container_name(ctx.stack, opts.get("service", "db"))
    wait = float(opts.get("wait_seconds", WAIT_SECONDS))
    secret = opts["password_secret"]
    password = ctx.secrets.get(secret, "")
    if not password:
        raise StackctlError(f"{secret} is missing from .env", "run `stackctl secrets gen`")
    database, user, host = opts["database"], opts["user"], opts["host"]
    account = f"{literal(user)}@{literal(host)}"
    charset, stored = _found(ctx.engine, container, opts, wait)
    native = stored.startswith("*") and len(stored) == 41  # mysql_native_password
    if native and not hmac.compare_digest(stored, native_password_hash(password)):
        raise StackctlError(
            f"database user {user}@{host} exists with a password other than {secret}",
            f"store its password with `stackctl secrets set {ctx.stack.name} {secret}`, or set "
            f"the user's password to {secret} (ALTER USER ... IDENTIFIED BY) in {container}",
        )
    if charset and charset != opts["charset"]:
        from stackctl import console

        console.warn(
            f"database {database} uses the charset {charset}, not {opts['charset']}: "
            "convert it (ALTER DATABASE, then each table) before text is lost"
        )
    wanted = set(opts["grants"])
    missing = wanted - _grants(ctx.engine, container, opts, wait) if stored else wanted
    if charset and stored and not missing:
        return False, f"database {database} and user {user} with {', '.join(sorted(wanted))}"
    collate = f" COLLATE {opts['collation']}" if opts.get("collation") else ""
    sql = [
        f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET {opts['charset']}{collate};",
        f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {literal(password)};",
        f"GRANT {', '.join(sorted(missing))} ON `{database}`.* TO {account};" if missing else "",
    ]
    run_sql(ctx.engine, container, "\n".join(s for s in sql if s) + "\n", opts, wait)
    made = [w for w, there in (("database", charset), ("user", stored)) if not there]
    did = ", ".join(
        [f"created {' and '.join(made)}"] * bool(made)
        + [f"granted {', '.join(sorted(missing))}"] * bool(missing)
    )
    return True, f"{database}/{user}: {did}"
