"""Mastodon's Rails side: database setup and migrations, the Owner account, upgrades.

Every Rails command runs in a one-off container of the recipe's `service` (`docker compose run`)
with the stack's current image and .env.production. What the database has been migrated with is
remembered in the stack state (`facts["migrations"]`: version, image id, post-deployment state),
so a deploy after a version change takes Mastodon's upgrade path by itself:

  before up   rails-database      no schema: db:setup; new image: db:migrate with
                                  SKIP_POST_DEPLOYMENT_MIGRATIONS=true (the old version keeps
                                  running on the new schema until up replaces it)
  after up    rails-post-migrate  the post-deployment migrations, once the new version runs
  after up    mastodon-owner      the Owner account; its generated password is shown once and
                                  kept for `stackctl extract` (see stackctl/steps/kept.py)

`stackctl run mastodon upgrade` is the core `deploy` action reporting these steps.
"""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING, Any

from stackctl.errors import StackctlError
from stackctl.logs import strip_ansi
from stackctl.schema import optional, required
from stackctl.secrets import secret_format
from stackctl.steps import container_name, step_kind
from stackctl.steps import kept as kept_values
from stackctl.steps.postgres import literal, options, psql, query

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from stackctl.recipe import Secret, Step
    from stackctl.stack import Stack
    from stackctl.steps import StepContext

FACT = "migrations"
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")
_PASSWORD = re.compile(r"^New password: (\S+)\s*$", re.MULTILINE)
_USERNAME = re.compile(r"^[A-Za-z0-9_]{1,30}$")


def rails(
    ctx: StepContext,
    opts: Mapping[str, Any],
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
) -> str:
    """Run a command in a one-off container of the Rails service; its output, or an error."""
    service = opts.get("service", "rails")
    busy = [
        c.name
        for c in ctx.engine.project_containers(ctx.stack.names.project)
        if c.service == service and c.state == "running"
    ]
    if busy:
        raise StackctlError(
            f"a one-off {service} container from an earlier run is still running: {', '.join(busy)}",
            f"wait for it to finish, or stop it with `docker rm -f {busy[0]}`, then deploy again",
        )
    result = ctx.engine.compose_run(
        ctx.stack.dir, ctx.stack.names.project, service, argv, dict(env or {})
    )
    output = strip_ansi(result.output)
    if result.exit_code != 0:
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise StackctlError(
            f"`{' '.join(argv)}` failed with exit code {result.exit_code}:\n{tail}",
            "fix the cause and run the deploy again: finished steps are not repeated",
        )
    return output


def schema_state(ctx: StepContext, opts: Mapping[str, Any]) -> str:
    """How far the database is: "none" (no database), "empty" (no tables), "partial" (tables
    but no recorded migration: an interrupted db:setup) or "present"."""
    container = container_name(ctx.stack, opts.get("db_service", "db"))
    database = opts["database"]
    user = opts.get("superuser", "postgres")
    exists = query(
        ctx.engine,
        container,
        f"SELECT 1 FROM pg_database WHERE datname = {literal(database)}",
        user=user,
    )
    if not exists:
        return "none"
    found = query(
        ctx.engine,
        container,
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
        database=database,
        user=user,
    )
    if found == "0":
        return "empty"
    code, versions = psql(
        ctx.engine,
        container,
        "SELECT count(*) FROM schema_migrations",
        database=database,
        user=user,
    )
    return "present" if code == 0 and versions not in ("", "0") else "partial"


def _series(version: str) -> tuple[int, int] | None:
    match = _VERSION.match(version or "")
    return (int(match[1]), int(match[2])) if match else None


def check_upgrade_path(old: str | None, new: str) -> None:
    """Mastodon wants every minor series deployed in turn, and no way back after migrating."""
    before, after = _series(old or ""), _series(new)
    if before is None or after is None or before == after:
        return
    if after < before:
        raise StackctlError(
            f"version {new} is older than {old}, which the database was migrated with",
            "set `version` back to a release of the same or a newer series; going back needs the database backup from before the upgrade",
        )
    next_minor = (before[0], before[1] + 1)
    next_major = (before[0] + 1, 0)
    if after not in (next_minor, next_major):
        raise StackctlError(
            f"upgrading from {old} to {new} skips a minor series",
            f"Mastodon asks for at least one release of every series: set `version` to a "
            f"v{before[0]}.{before[1] + 1}.x release first, deploy, then continue",
        )


def _record(ctx: StepContext) -> dict[str, Any]:
    return dict(ctx.stack.state.facts.get(FACT) or {})


def _remember(ctx: StepContext, **values: Any) -> None:
    ctx.stack.state.facts[FACT] = {**_record(ctx), **values}
    ctx.stack.state.save()


@step_kind(
    "rails-database",
    {
        "service": optional(str),
        "db_service": optional(str),
        "superuser": optional(str),
        "database": required(str),
        "image_service": optional(str),
        "version": required(str),
    },
)
def rails_database(step: Step, ctx: StepContext) -> tuple[bool, str]:
    opts = options(step, ctx)
    version = opts["version"]
    image = ctx.stack.images()[opts.get("image_service", "web")]
    image_id = ctx.engine.image_id(image) or image
    state = schema_state(ctx, opts)
    if state != "present":
        env = {"SAFETY_ASSURED": "1"}
        if state == "partial":
            # an interrupted setup left tables marked as production's: let db:setup redo them
            env["DISABLE_DATABASE_ENVIRONMENT_CHECK"] = "1"
        rails(ctx, opts, ["bundle", "exec", "rails", "db:setup"], env)
        _remember(ctx, version=version, image=image_id, post_deployment="done")
        again = " again, after an interrupted setup" if state == "partial" else ""
        return True, f"db:setup{again}: schema and seeds of {version} loaded"
    record = _record(ctx)
    if (record.get("image"), record.get("version")) == (image_id, version):
        return False, f"schema migrated for {version}"
    check_upgrade_path(record.get("version"), version)
    rails(
        ctx,
        opts,
        ["bundle", "exec", "rails", "db:migrate"],
        {"SKIP_POST_DEPLOYMENT_MIGRATIONS": "true"},
    )
    detail = f"pre-deployment migrations for {version}"
    if not record:
        # a database stackctl did not set up, or a setup interrupted before it was recorded:
        # Mastodon's seeds only create what is missing
        rails(ctx, opts, ["bundle", "exec", "rails", "db:seed"])
        detail += " and seeds"
    _remember(ctx, version=version, image=image_id, post_deployment="pending")
    return True, detail + " (post-deployment migrations follow once it runs)"


@step_kind("rails-post-migrate", {"service": optional(str)})
def rails_post_migrate(step: Step, ctx: StepContext) -> tuple[bool, str]:
    record = _record(ctx)
    if record.get("post_deployment") != "pending":
        return False, "no post-deployment migrations pending"
    rails(ctx, options(step, ctx), ["bundle", "exec", "rails", "db:migrate"])
    _remember(ctx, post_deployment="done")
    return True, f"post-deployment migrations for {record.get('version', '?')}"


def _forget_action(stack: Stack) -> str:
    names = [a.name for a in stack.recipe.actions if a.kind == "forget-kept"]
    return f"`stackctl run {stack.name} {names[0]}`" if names else "deleting it"


def _show_once(stack: Stack, step: Step, username: str, email: str, password: str) -> None:
    from rich.markup import escape

    from stackctl import console

    name = step.options["keep_as"]
    console.err.print(
        f"[warn]Owner account [bold]{escape(username)}[/bold] <{escape(email)}>, "
        f"password (shown once): [bold]{escape(password)}[/bold][/]"
    )
    console.err.print(
        f"  change it after the first login; until then `stackctl extract {stack.name} {name}` "
        f"prints it again, and {escape(_forget_action(stack))} forgets it"
    )


@step_kind(
    "mastodon-owner",
    {
        "service": optional(str),
        "db_service": optional(str),
        "superuser": optional(str),
        "database": required(str),
        "username": required(str),
        "email": required(str),
        "keep_as": required(str),
    },
)
def mastodon_owner(step: Step, ctx: StepContext) -> tuple[bool, str]:
    opts = options(step, ctx)
    username, email = opts["username"], opts["email"]
    if not _USERNAME.match(username):
        raise StackctlError(
            f"owner_username {username!r} is not a Mastodon username",
            "up to 30 letters, digits and _",
        )
    container = container_name(ctx.stack, opts.get("db_service", "db"))
    exists = query(
        ctx.engine,
        container,
        "SELECT 1 FROM accounts WHERE domain IS NULL "
        f"AND lower(username) = lower({literal(username)})",
        database=opts["database"],
        user=opts.get("superuser", "postgres"),
    )
    journal = ctx.stack.state.journal.setdefault(step.id, {})
    if exists:
        interrupted = journal.get("creating") == username
        if not interrupted or kept_values.has(ctx.stack, opts["keep_as"]):
            return False, f"owner account {username} exists"
        # created by an interrupted run whose password was never seen: give it a new one
        output = rails(
            ctx, opts, ["bin/tootctl", "accounts", "modify", username, "--reset-password"]
        )
        verb = "reset the password of"
    else:
        journal["creating"] = username
        ctx.stack.state.save()
        argv = ["bin/tootctl", "accounts", "create", username, "--email", email]
        output = rails(ctx, opts, [*argv, "--confirmed", "--role", "Owner", "--approve"])
        verb = "created"
    found = _PASSWORD.findall(output)
    if not found:
        raise StackctlError(
            f"tootctl printed no password for {username}",
            f"set one with `stackctl run {ctx.stack.name} tootctl accounts modify {username} --reset-password`",
        )
    kept_values.keep(ctx.stack, step, found[-1])
    _show_once(ctx.stack, step, username, email, found[-1])
    return True, (
        f"{verb} owner account {username} <{email}>; password shown once "
        f"(`stackctl extract {ctx.stack.name} {opts['keep_as']}`)"
    )


# -- Web Push (VAPID) keys -----------------------------------------------------------------
# The pair is a P-256 key in URL-safe base64 with padding: the private scalar (44 characters)
# and the uncompressed public point (88, "B..."). Rails secrets use the core's `hex` format
# (`rails secret`), Active Record encryption keys its `alnum` one.


def _vapid_scalar(value: str) -> int:
    """The private scalar; keys written by other tools may drop leading zero bytes."""
    raw = base64.urlsafe_b64decode(value.encode())
    if base64.urlsafe_b64encode(raw).decode() != value or not 1 <= len(raw) <= 32:
        raise ValueError("not a padded URL-safe base64 P-256 private key")
    from cryptography.hazmat.primitives.asymmetric import ec

    scalar = int.from_bytes(raw, "big")
    ec.derive_private_key(scalar, ec.SECP256R1())  # refuses 0 and values beyond the curve order
    return scalar


def vapid_public_key(private: str) -> str:
    """The public half Mastodon wants in VAPID_PUBLIC_KEY: 0x04 || X || Y, URL-safe base64."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.derive_private_key(_vapid_scalar(private), ec.SECP256R1())
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(point).decode()


def _check_vapid(spec: Secret, value: str) -> str | None:
    try:
        _vapid_scalar(value)
    except ValueError:
        return "is not a P-256 private key in padded URL-safe base64 (44 characters)"
    return None


@secret_format("vapid", derive=lambda spec, private: vapid_public_key(private), check=_check_vapid)
def _vapid(spec: Secret) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec

    scalar = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
    return base64.urlsafe_b64encode(scalar.to_bytes(32, "big")).decode()
