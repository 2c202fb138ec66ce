"""Mastodon's bootstrap on a real engine: the Postgres role, db:setup/migrate, the Owner account.

Postgres and Redis are real (Debian builds honouring the official images' contracts). Mastodon
itself is a stand-in (tests/images/mastodon-standin) that honours its command contract and
really writes to that Postgres, so first run, re-run and interrupted runs are told apart by
what is in the database. These tests prove stackctl's side of the contract, not Mastodon.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from stackctl import secrets as secret_store
from stackctl.apply import apply
from stackctl.deploy import ensure_network
from stackctl.engine import open_engine
from stackctl.envfile import read_env
from stackctl.errors import StackctlError
from stackctl.files import apply_plan, plan_files
from stackctl.network import layout
from stackctl.plan import plan_stack
from stackctl.recipe import get_recipe
from stackctl.render import StackInputs, render_stack
from stackctl.settings import load_site, parse_site, stack_settings
from stackctl.stack import open_stack
from stackctl.steps import StepContext, step_runner
from stackctl.steps.postgres import password_matches

from .conftest import docker, free_port, names, teardown_stack

NAMES = names("mastodon")  # this run's engine names for the stack

pytestmark = pytest.mark.engine

STANDIN = "stackctl-test/mastodon-standin"
IMAGES = {
    # no tag on the right: the recipe's version tag is kept (stackctl-test/...:v4.7.2)
    "ghcr.io/mastodon/mastodon": STANDIN,
    "ghcr.io/mastodon/mastodon-streaming": STANDIN,
    "postgres": "stackctl-test/postgres:15",
    "redis": "stackctl-test/redis:7",
}
STANDIN_MIGRATIONS = ["20240101000001", "20240101000002", "20240101000003", "20250101000001"]


def teardown(stack_dir: Path) -> None:
    teardown_stack(stack_dir, "mastodon")


@pytest.fixture
def mastodon(tmp_path, engine_ready, site_file):
    """A stackctl.toml for Mastodon on free ports and the local images; torn down after."""
    for image in ("stackctl-test/redis:7", f"{STANDIN}:latest"):
        if docker("image", "inspect", image, check=False).returncode:
            pytest.fail(
                f"test image {image} missing: bash tests/images/build.sh redis mastodon-standin"
            )
    docker("tag", f"{STANDIN}:latest", f"{STANDIN}:v4.7.2")
    ports = {"web_port": free_port(), "streaming_port": free_port(), "redis_port": free_port()}

    def configure(**extra: object) -> Path:
        values = {**ports, "version": "v4.7.2", "local_domain": "test.lan", **extra}
        table = "[stacks.mastodon]\n" + "".join(
            f"{k} = {json.dumps(v)}\n" for k, v in values.items()
        )
        return site_file(extra='[mail]\nrelay_host = "mail.test.lan"\n\n' + table, images=IMAGES)

    stack_dir = tmp_path / "stacks" / "docker-mastodon"
    teardown(stack_dir)
    info = {
        "configure": configure,
        "path": configure(),
        "ports": ports,
        "stack_dir": stack_dir,
        "data": tmp_path / "data" / "mastodon",
    }
    yield info
    teardown(stack_dir)
    for tag in ("v4.7.3", "v4.9.0"):
        docker("rmi", f"{STANDIN}:{tag}", check=False)


def sql(query: str, database: str = "mastodon_production") -> str:
    done = docker(
        "exec", "-u", "postgres", NAMES.container("db"),
        "psql", "-X", "-q", "-t", "-A", "-U", "postgres", "-d", database, "-c", query,
        check=False,
    )  # fmt: skip
    return done.stdout.strip() if done.returncode == 0 else ""


def events() -> list[str]:
    return sql("SELECT source || ': ' || event FROM standin_log ORDER BY id").splitlines()


def deploy(run_cli, *options: str) -> dict:
    result = run_cli("deploy", "mastodon", "--json", "--wait", "120", *options)
    assert result.exit_code == 0, result.stdout + result.stderr
    (report,) = json.loads(result.stdout[result.stdout.index("[\n") :])  # one list shape
    report["stderr"] = result.stderr
    report["outcome"] = {s["id"]: (s["outcome"], s["detail"]) for s in report["steps"]}
    return report


def inspect(name: str) -> dict:
    return json.loads(docker("inspect", name).stdout)[0]


def journal(site: dict) -> dict:
    return json.loads((site["stack_dir"] / ".stackctl" / "state.json").read_text())["journal"]


def wait_for_event(text: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while text not in "\n".join(events()):
        if process.poll() is not None:
            pytest.fail(f"deploy ended before {text!r}:\n{process.stdout.read().decode()}")
        assert time.monotonic() < deadline, f"no {text!r} in {events()}"
        time.sleep(0.3)


def crash_deploy_at(site: dict, pause: str, event: str) -> Path:
    """Start a deploy, let the stand-in stop at `pause`, then kill it as a crash would.

    Returns the pause flag: the one-off container waits while it exists.
    """
    flag = site["data"] / "public" / "system" / f".standin-pause-{pause}"
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.touch()
    process = subprocess.Popen(
        [sys.executable, "-m", "stackctl", "deploy", "mastodon", "--wait", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
        start_new_session=True,  # the whole process group dies, compose CLI included
    )
    try:
        wait_for_event(event, process)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    return flag


def remove_one_offs() -> list[str]:
    found = docker(
        "ps", "-q", "--filter", f"label=com.docker.compose.project={NAMES.project}",
        "--filter", "label=com.docker.compose.oneoff=True",
    ).stdout.split()  # fmt: skip
    for container in found:
        docker("rm", "-f", container)
    return found


def pw_hash(password: str) -> str:
    return "sha256:" + hashlib.sha256(password.encode()).hexdigest()


# -- compose ----------------------------------------------------------------------------------


def test_compose_config_with_sso_search_and_mail_auth(tmp_path, engine_ready):
    site = parse_site(
        {
            "stacks_root": str(tmp_path),
            "data_root": str(tmp_path / "data"),
            "mail": {"relay_host": "mail.example.lan", "username": "apps"},
            "sso": {"enabled": True, "issuer": "https://sso.example.lan/realms/home"},
            "stacks": {"mastodon": {"elasticsearch": True, "local_domain": "example.lan"}},
        }
    )
    recipe = get_recipe("mastodon")
    settings = stack_settings(site, "mastodon", recipe.settings, ["mastodon"])
    stack_dir = site.stack_dir("mastodon")
    secret_store.ensure(recipe, stack_dir)
    secret_store.set_value(recipe, stack_dir, "OIDC_CLIENT_SECRET", "kc-secret")
    secret_store.set_value(recipe, stack_dir, "SMTP_PASSWORD", "mail $ecret")
    plan = layout(site.names("mastodon").network, "10.214.0.0/24", recipe.network.fixed_ips, "test")
    files = render_stack(
        StackInputs(recipe, site, settings, plan, secret_store.load(stack_dir), {})
    )
    apply_plan(stack_dir, plan_files(stack_dir, files, {}), {})
    open_engine().compose_config(stack_dir, "mastodon")
    done = docker("compose", "--project-directory", str(stack_dir), "config", "--format", "json")
    model = json.loads(done.stdout)
    web = model["services"]["web"]["environment"]
    # compose reads .env.production as Mastodon will see it: quotes gone, "$" literal
    # (`config` prints a literal "$" as "$$", the compose-file spelling of it)
    assert web["OIDC_ENABLED"] == "true" and web["OIDC_CLIENT_SECRET"] == "kc-secret"
    assert web["SMTP_PASSWORD"] == "mail $$ecret"
    assert web["OIDC_DISPLAY_NAME"] == "Keycloak"
    assert web["WEB_DOMAIN"] == "mastodon.example.lan" and web["ES_HOST"] == "es"
    env = read_env(stack_dir / ".env")
    assert web["VAPID_PUBLIC_KEY"] == env["VAPID_PUBLIC_KEY"]
    assert oct((stack_dir / ".env.production").stat().st_mode & 0o777) == "0o600"


# -- the Postgres role ------------------------------------------------------------------------


def start_db(site: dict):
    stack = open_stack("mastodon", load_site(site["path"]))
    engine = open_engine()
    planned = plan_stack(stack, engine)
    apply(planned)
    ensure_network(engine, planned.network, stack.names)
    engine.compose_up(stack.dir, stack.names.project, services=["db"], wait_seconds=120)
    return StepContext(stack, engine, planned.network, planned.secrets)


def login(user: str, password: str) -> subprocess.CompletedProcess:
    """Connect over TCP to the container's own address: password auth (scram-sha-256)."""
    script = (
        'PGPASSWORD="$1" psql -X -t -A -h "$(hostname -i | cut -d" " -f1)" '
        '-U "$2" -d postgres -c "SELECT current_user"'
    )
    return docker(
        "exec", NAMES.container("db"), "sh", "-c", script, "-", password, user, check=False
    )


def test_role_is_created_once_against_real_postgres(mastodon):
    ctx = start_db(mastodon)
    step = next(s for s in ctx.stack.recipe.bootstrap if s.kind == "postgres-role")
    run = step_runner("postgres-role")
    assert sql("SELECT 1 FROM pg_roles WHERE rolname = 'mastodon'", "postgres") == ""

    changed, detail = run(step, ctx)
    assert changed and detail.startswith("created role mastodon (LOGIN CREATEDB)")
    row = sql(
        "SELECT rolcanlogin, rolcreatedb, rolsuper, rolpassword FROM pg_authid "
        "WHERE rolname = 'mastodon'",
        "postgres",
    )
    login_ok, createdb, superuser, stored = row.split("|")
    assert (login_ok, createdb, superuser) == ("t", "t", "f")
    assert stored.startswith("SCRAM-SHA-256$4096:")
    password = ctx.secrets["DB_PASS"]
    assert password not in stored
    assert login("mastodon", password).stdout.strip() == "mastodon"
    assert login("mastodon", "wrong").returncode != 0

    # second run: found, left as it is
    assert run(step, ctx) == (False, "role mastodon exists")
    assert sql("SELECT rolpassword FROM pg_authid WHERE rolname = 'mastodon'", "postgres") == stored

    # our verifier check agrees with what Postgres itself stores for a password
    sql(
        "SET password_encryption = 'scram-sha-256'; CREATE ROLE probe PASSWORD 'pencil'", "postgres"
    )
    theirs = sql("SELECT rolpassword FROM pg_authid WHERE rolname = 'probe'", "postgres")
    assert password_matches(theirs, "pencil", "probe")
    assert not password_matches(theirs, "pencil2", "probe")

    # a role made by hand with another password is reported, never changed
    sql("DROP ROLE mastodon; CREATE ROLE mastodon LOGIN PASSWORD 'by-hand'", "postgres")
    with pytest.raises(StackctlError, match="password other than DB_PASS"):
        run(step, ctx)
    assert login("mastodon", "by-hand").stdout.strip() == "mastodon"


# -- the whole bootstrap ----------------------------------------------------------------------


def test_first_run_then_a_rerun_that_changes_nothing(mastodon, run_cli):
    first = deploy(run_cli)
    outcome = first["outcome"]
    assert outcome["media-owner"][0] == "changed"
    assert outcome["role"] == (
        "changed",
        "created role mastodon (LOGIN CREATEDB) with the password in DB_PASS",
    )
    assert outcome["database"] == ("changed", "db:setup: schema and seeds of v4.7.2 loaded")
    assert outcome["post-migrate"][0] == "unchanged"
    assert outcome["owner"][0] == "changed"

    # the database as db:setup and tootctl left it
    assert sql("SELECT version FROM schema_migrations ORDER BY version").split() == (
        STANDIN_MIGRATIONS
    )
    assert sql("SELECT name FROM user_roles ORDER BY position").split() == [
        "Moderator",
        "Admin",
        "Owner",
    ]
    owner = sql(
        "SELECT a.username, u.email, r.name, u.confirmed_at IS NOT NULL, u.approved, "
        "u.encrypted_password FROM users u JOIN accounts a ON a.id = u.account_id "
        "JOIN user_roles r ON r.id = u.role_id"
    )
    username, email, role, confirmed, approved, stored = owner.split("|")
    assert (username, email, role, confirmed, approved) == (
        "sysop",
        "sysop@test.lan",
        "Owner",
        "t",
        "t",
    )
    log = events()
    assert log[:5] == [
        "rails: db:setup started",
        "rails: db:schema:load started",
        "rails: db:schema:load done: 4 migrations",
        "rails: db:seed",
        "rails: db:setup done",
    ]
    assert sorted(log[5:7]) == ["sidekiq: started 4.7.2", "web: booted 4.7.2; pending: none"]
    assert log[7:] == ["tootctl: accounts create sysop"]

    # the password: shown once (stderr), kept 0600 outside state.json, readable with extract
    shown = first["stderr"].split("password (shown once): ")[1].split()[0]
    assert pw_hash(shown) == stored
    extracted = run_cli("extract", "mastodon", "admin-password")
    assert extracted.exit_code == 0 and extracted.stdout.strip() == shown
    state = (mastodon["stack_dir"] / ".stackctl" / "state.json").read_text()
    assert shown not in state
    kept = mastodon["stack_dir"] / ".stackctl" / "kept" / "admin-password"
    assert oct(kept.stat().st_mode & 0o777) == "0o600"

    # secrets reached Mastodon: .env.production (0600) carries the .env values
    env = read_env(mastodon["stack_dir"] / ".env")
    production = read_env(mastodon["stack_dir"] / ".env.production")
    assert oct((mastodon["stack_dir"] / ".env.production").stat().st_mode & 0o777) == "0o600"
    for name in ("SECRET_KEY_BASE", "VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY", "DB_PASS"):
        assert production[name] == env[name]

    # web answers on its published port, with the domain from the settings; fixed addresses
    port = mastodon["ports"]["web_port"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/instance", timeout=5) as r:
        instance = json.load(r)
    assert instance["domain"] == "test.lan" and instance["usage"]["users"]["total"] == 1
    with urllib.request.urlopen(
        f"http://127.0.0.1:{mastodon['ports']['streaming_port']}/api/v1/streaming/health",
        timeout=5,
    ) as r:
        assert r.read() == b"OK"
    for service in ("web", "sidekiq"):
        address = inspect(NAMES.container(service))["NetworkSettings"]["Networks"][NAMES.network]
        assert address["IPAddress"] == first["network"]["ips"][service]
    for service in ("web", "streaming", "sidekiq", "db", "redis"):
        assert inspect(NAMES.container(service))["State"]["Health"]["Status"] == "healthy"
    public = mastodon["data"] / "public" / "system"
    assert (public.stat().st_uid, public.stat().st_gid) == (991, 991)

    # re-run: nothing happens to the database or the containers
    ids = {s: inspect(NAMES.container(s))["Id"] for s in ("web", "sidekiq", "db")}
    before = events()
    second = deploy(run_cli)
    assert not second["changed"], second
    # the containers run as when the checks passed: the database is not even asked
    assert second["outcome"]["role"][0] == second["outcome"]["database"][0] == "skipped"
    assert second["outcome"]["media-owner"][0] == "unchanged"  # host side: always checked
    second = deploy(run_cli, "--recheck")
    assert not second["changed"], second
    assert second["outcome"]["role"] == ("unchanged", "role mastodon exists")
    assert second["outcome"]["database"] == ("unchanged", "schema migrated for v4.7.2")
    assert second["outcome"]["owner"] == ("skipped", "done earlier")
    assert events() == before
    assert {s: inspect(NAMES.container(s))["Id"] for s in ids} == ids
    assert "shown once" not in second["stderr"]

    # forgetting the kept password
    assert run_cli("run", "mastodon", "forget-admin-password").exit_code == 0
    gone = run_cli("extract", "mastodon", "admin-password")
    assert gone.exit_code == 1 and "no admin-password is kept" in gone.stderr


def test_interrupted_setup_is_finished_by_the_next_deploy(mastodon, run_cli):
    flag = crash_deploy_at(mastodon, "db-setup", "rails: paused at db-setup")
    assert journal(mastodon)["database"]["status"] == "started"
    # the crash left tables but no recorded migration
    assert sql("SELECT count(*) FROM schema_migrations") == "0"
    assert sql("SELECT value FROM ar_internal_metadata WHERE key = 'environment'") == "production"

    # the one-off db:setup is still running: the next deploy refuses to start a second one
    refused = run_cli("deploy", "mastodon", "--wait", "120")
    assert refused.exit_code == 1 and "still running" in refused.stderr
    assert remove_one_offs()
    flag.unlink()

    resumed = deploy(run_cli)
    assert resumed["outcome"]["database"] == (
        "changed",
        "db:setup again, after an interrupted setup: schema and seeds of v4.7.2 loaded",
    )
    assert sql("SELECT version FROM schema_migrations ORDER BY version").split() == (
        STANDIN_MIGRATIONS
    )
    log = events()
    assert log.count("rails: db:setup started") == 2 and log.count("rails: db:setup done") == 1
    assert log.count("tootctl: accounts create sysop") == 1
    assert sql("SELECT count(*) FROM user_roles") == "3"
    assert journal(mastodon)["database"]["status"] == "done"


def test_interrupted_owner_creation_gets_a_new_password(mastodon, run_cli):
    flag = crash_deploy_at(mastodon, "accounts-create", "tootctl: paused at accounts-create")
    assert remove_one_offs()
    flag.unlink()
    entry = journal(mastodon)["owner"]
    assert entry["status"] == "started" and entry["creating"] == "sysop"
    # the account exists, but its password was never printed
    assert sql("SELECT count(*) FROM accounts WHERE username = 'sysop'") == "1"
    assert not (mastodon["stack_dir"] / ".stackctl" / "kept" / "admin-password").exists()

    resumed = deploy(run_cli)
    assert resumed["outcome"]["owner"][1].startswith("reset the password of owner account sysop")
    password = run_cli("extract", "mastodon", "admin-password").stdout.strip()
    assert sql("SELECT encrypted_password FROM users") == pw_hash(password)
    assert sql("SELECT count(*) FROM accounts WHERE username = 'sysop'") == "1"
    log = events()
    assert log.count("tootctl: accounts create sysop") == 1
    assert log.count("tootctl: accounts modify sysop reset_password") == 1
    assert journal(mastodon)["owner"]["status"] == "done"
    assert "creating" not in journal(mastodon)["owner"]


def test_upgrade_runs_pre_and_post_deployment_migrations_around_the_restart(mastodon, run_cli):
    deploy(run_cli)
    web_before = inspect(NAMES.container("web"))["Id"]
    build = subprocess.run(
        ["docker", "build", "-q", "-t", f"{STANDIN}:v4.7.3", "-"],
        input=f"FROM {STANDIN}:v4.7.2\nENV MASTODON_STANDIN_VERSION=4.7.3\n",
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    mastodon["configure"](version="v4.7.3")
    before = len(events())

    upgraded = run_cli("run", "mastodon", "upgrade")
    assert upgraded.exit_code == 0, upgraded.stderr
    assert "upgraded to v4.7.3" in upgraded.stdout
    # pre-deployment migration with the old version still running, then the new version
    # starts with only the post-deployment migration pending, which runs last
    new = events()[before:]
    assert new[0] == "rails: db:migrate (post-deployment skipped): 20260901000001"
    assert "web: booted 4.7.3; pending: 20260901000002" in new
    assert new[-1] == "rails: db:migrate: 20260901000002"
    assert new.index("web: booted 4.7.3; pending: 20260901000002") < len(new) - 1
    assert inspect(NAMES.container("web"))["Config"]["Image"] == f"{STANDIN}:v4.7.3"
    assert inspect(NAMES.container("web"))["Id"] != web_before

    again = run_cli("run", "mastodon", "upgrade")
    assert "nothing to upgrade" in again.stdout

    # skipping a minor series is refused before anything is restarted
    docker("tag", f"{STANDIN}:v4.7.3", f"{STANDIN}:v4.9.0")
    mastodon["configure"](version="v4.9.0")
    web_id = inspect(NAMES.container("web"))["Id"]
    refused = run_cli("deploy", "mastodon", "--wait", "120")
    assert refused.exit_code == 1 and "skips a minor series" in refused.stderr
    assert inspect(NAMES.container("web"))["Id"] == web_id
