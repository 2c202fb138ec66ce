"""`postgres-role`: an application's login role in a Postgres service, created only if missing.

Works through `psql` inside the database container as its superuser (the local socket, which
the official image trusts), so no port is published and no client is needed on the host. The
password never appears on a command line: the role gets a SCRAM-SHA-256 verifier computed here.

    [[bootstrap]]
    kind = "postgres-role"
    phase = "before-up"
    start = ["db"]
    service = "db"                # the Postgres service
    role = "{{ settings.db_user }}"
    password_secret = "DB_PASS"   # a secret of the recipe
    createdb = true               # the app creates its own database
    superuser = "postgres"        # optional, POSTGRES_USER of the image
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from typing import TYPE_CHECKING, Any

from stackctl.errors import StackctlError
from stackctl.schema import optional, required
from stackctl.steps import container_name, step_kind

if TYPE_CHECKING:
    from collections.abc import Mapping

    from stackctl.engine import Engine
    from stackctl.recipe import Step
    from stackctl.steps import StepContext

# psql's words for a server that is not (or not yet, or no longer) accepting connections
_NOT_READY = (
    "could not connect",
    "connection to server",
    "the database system is starting up",
    "the database system is shutting down",
    "no such file or directory",
    "connection refused",
)


def literal(text: str) -> str:
    """An SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def identifier(text: str) -> str:
    """An SQL identifier, quoted."""
    return '"' + text.replace('"', '""') + '"'


def psql(
    engine: Engine,
    container: str,
    sql: str,
    database: str = "postgres",
    user: str = "postgres",
    wait_seconds: float = 60,
) -> tuple[int, str]:
    """Run one statement as `user`; returns (exit code, unaligned tuples-only output).

    Retries while the server is not accepting connections (the official image restarts the
    server once after initialising an empty data folder).
    """
    argv = ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"]
    argv += ["-U", user, "-d", database, "-c", sql]
    deadline = time.monotonic() + wait_seconds
    while True:
        result = engine.exec(container, argv, user="postgres")
        lowered = result.output.lower()
        if result.exit_code == 0 or not any(m in lowered for m in _NOT_READY):
            return result.exit_code, result.output.strip()
        if time.monotonic() > deadline:
            return result.exit_code, result.output.strip()
        time.sleep(1)


def query(engine: Engine, container: str, sql: str, **kwargs: Any) -> str:
    code, output = psql(engine, container, sql, **kwargs)
    if code != 0:
        raise StackctlError(
            f"psql in {container} failed: {output[-500:]}",
            f"check the database with `docker logs {container}`",
        )
    return output


def scram_sha_256(password: str, salt: bytes | None = None, iterations: int = 4096) -> str:
    """The verifier Postgres stores for a password (RFC 5802/7677, Postgres' text form)."""
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def password_matches(stored: str, password: str, role: str) -> bool:
    """Whether a pg_authid.rolpassword value is this password (SCRAM or md5 form)."""
    if stored.startswith("SCRAM-SHA-256$"):
        try:
            head, _ = stored.split("$", 2)[1:]
            iterations, salt = head.split(":")
            expected = scram_sha_256(password, base64.b64decode(salt), int(iterations))
        except ValueError:
            return False
        return hmac.compare_digest(expected, stored)
    if stored.startswith("md5"):
        digest = "md5" + hashlib.md5((password + role).encode()).hexdigest()
        return hmac.compare_digest(digest, stored)
    return False


def options(step: Step, ctx: StepContext) -> dict[str, Any]:
    """The step's options with settings filled in."""
    from stackctl.render import expand

    context = ctx.stack.context()
    return {
        k: expand(ctx.stack.recipe, v, context) if isinstance(v, str) else v
        for k, v in step.options.items()
    }


def role_password(opts: Mapping[str, Any], secrets: Mapping[str, str]) -> str:
    name = opts["password_secret"]
    password = secrets.get(name, "")
    if not password:
        raise StackctlError(f"{name} is missing from .env", "run `stackctl secrets gen`")
    if not password.isascii() or not password.isprintable():
        raise StackctlError(f"{name} must be printable ASCII for a Postgres password verifier")
    return password


@step_kind(
    "postgres-role",
    {
        "service": optional(str),
        "superuser": optional(str),
        "role": required(str),
        "password_secret": required(str),
        "createdb": optional(bool),
    },
)
def postgres_role(step: Step, ctx: StepContext) -> tuple[bool, str]:
    opts = options(step, ctx)
    container = container_name(ctx.stack, opts.get("service", "db"))
    superuser = opts.get("superuser", "postgres")
    role = opts["role"]
    password = role_password(opts, ctx.secrets)
    found = query(
        ctx.engine,
        container,
        "SELECT rolcanlogin::int, rolcreatedb::int, coalesce(rolpassword, '') "
        f"FROM pg_authid WHERE rolname = {literal(role)}",
        user=superuser,
    )
    secret_name = opts["password_secret"]
    if found:
        can_login, can_create, stored = found.split("|", 2)
        if can_login != "1":
            raise StackctlError(
                f"Postgres role {role} exists but cannot log in",
                f'docker exec {container} psql -U {superuser} -c "ALTER ROLE {identifier(role)} LOGIN"',
            )
        if not password_matches(stored, password, role):
            raise StackctlError(
                f"Postgres role {role} exists with a password other than {secret_name}",
                f"store the role's password with `stackctl secrets set {ctx.stack.name} {secret_name}`, "
                f"or set the role's password to {secret_name} (ALTER ROLE ... PASSWORD) in {container}",
            )
        if opts.get("createdb") and can_create != "1":
            return False, f"role {role} exists (without CREATEDB: create its database yourself)"
        return False, f"role {role} exists"
    attributes = "LOGIN CREATEDB" if opts.get("createdb") else "LOGIN"
    query(
        ctx.engine,
        container,
        f"CREATE ROLE {identifier(role)} WITH {attributes} "
        f"PASSWORD {literal(scram_sha_256(password))}",
        user=superuser,
    )
    return True, f"created role {role} ({attributes}) with the password in {secret_name}"
