"""The generic `mysql-database` and `http-probe` steps, and steps that exist only `when` a
condition holds, on a fake engine and a local HTTP server."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stackctl.bootstrap import active_steps
from stackctl.engine_fake import FakeEngine
from stackctl.errors import RecipeError, StackctlError
from stackctl.recipe import Step, load_recipe
from stackctl.render import base_context
from stackctl.settings import parse_site, stack_settings
from stackctl.stack import Stack
from stackctl.state import State
from stackctl.steps import StepContext, step_runner
from stackctl.steps.mysql import native_password_hash

PASSWORD = "it's a p@ss\\word"


class FakeMariaDB(FakeEngine):
    """Answers the step's SQL like a server: a database, one user, its grants."""

    def __init__(self, charset: str = "", password: str = "", grants: tuple[str, ...] = ()):
        super().__init__()
        self.charset, self.grants = charset, set(grants)
        self.stored = native_password_hash(password) if password else ""
        self.scripts: list[str] = []

    def exec_stream(self, container, argv, stdin, stdout, user=None) -> int:
        self._call("exec_stream", container, list(argv), user)
        sql = stdin.read().decode()
        self.scripts.append(sql)
        if sql.startswith("SELECT"):
            stdout.write(f"{self.charset or 'NULL'}\t{self.stored or 'NULL'}\n".encode())
        elif sql.startswith("SHOW GRANTS"):
            held = ", ".join(sorted(self.grants))
            stdout.write(b"GRANT USAGE ON *.* TO `etherpad`@`%`\n")
            if held:
                stdout.write(f"GRANT {held} ON `etherpad`.* TO `etherpad`@`%`\n".encode())
        else:
            if m := re.search(r"CHARACTER SET (\w+)", sql):
                self.charset = self.charset or m.group(1)
            if "CREATE USER" in sql and not self.stored:
                self.stored = native_password_hash(PASSWORD)
            if m := re.search(r"GRANT (.+) ON", sql):
                self.grants |= {p.strip() for p in m.group(1).split(",")}
        return 0


RECIPE = """
name = "demo"
[network]
fixed_ips = {}
[services.db]
image = "mariadb"
tag = "10.11"
when = "settings.mariadb"
[settings.mariadb]
kind = "bool"
default = true
[[secrets]]
name = "DB_PASS"
format = "password"
[[bootstrap]]
id = "db"
kind = "mysql-database"
title = "database"
phase = "before-up"
when = "settings.mariadb"
start = ["db"]
service = "db"
database = "etherpad"
user = "etherpad"
password_secret = "DB_PASS"
grants = ["CREATE", "ALTER", "SELECT", "INSERT", "UPDATE", "DELETE"]
collation = "utf8mb4_bin"
[[bootstrap]]
id = "probe"
kind = "http-probe"
title = "answers"
url = "http://127.0.0.1:{{ settings.port }}/health"
contains = "pass"
wait_seconds = 1
[settings.port]
kind = "port"
default = 9001
"""


def context(tmp_path: Path, engine: FakeEngine, stack_raw=None) -> tuple[StepContext, dict]:
    folder = tmp_path / "demo"
    folder.mkdir(exist_ok=True)
    (folder / "recipe.toml").write_text(RECIPE)
    recipe = load_recipe(folder)
    site = parse_site({"domain": "example.lan", "stacks": {"demo": stack_raw or {}}})
    settings = stack_settings(site, "demo", recipe.settings, ["demo"])
    stack = Stack(recipe, site, settings, State(tmp_path / "state.json"))
    steps = {s.id: s for s in recipe.bootstrap}
    return StepContext(stack, engine, None, {"DB_PASS": PASSWORD}), steps


def test_a_step_exists_only_when_its_condition_holds(tmp_path):
    ctx, _ = context(tmp_path, FakeEngine())
    recipe, site = ctx.stack.recipe, ctx.stack.site
    on = active_steps(recipe, base_context(recipe, site, ctx.stack.settings))
    settings = stack_settings(
        parse_site({"stacks": {"demo": {"mariadb": False}}}), "demo", recipe.settings, ["demo"]
    )
    off = active_steps(recipe, base_context(recipe, site, settings))
    assert [s.id for s in on] == ["db", "probe"] and [s.id for s in off] == ["probe"]


def test_creates_database_user_and_grants_with_the_password_only_on_stdin(tmp_path):
    engine = FakeMariaDB()
    ctx, steps = context(tmp_path, engine)
    changed, detail = step_runner("mysql-database")(steps["db"], ctx)
    assert changed and "created database and user" in detail
    script = engine.scripts[-1]
    assert (
        "CREATE DATABASE IF NOT EXISTS `etherpad` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;"
        in script
    )
    # MySQL string literal: quote doubled, backslash escaped
    assert "IDENTIFIED BY 'it''s a p@ss\\\\word';" in script
    assert "GRANT ALTER, CREATE, DELETE, INSERT, SELECT, UPDATE ON `etherpad`.*" in script
    for call in engine.calls:
        assert PASSWORD not in " ".join(call[2])  # never on a command line
    assert (
        engine.calls[0][2][:2] == ["sh", "-c"] and "$MARIADB_ROOT_PASSWORD" in engine.calls[0][2][2]
    )


def test_a_second_run_changes_nothing_and_a_missing_grant_is_added(tmp_path):
    engine = FakeMariaDB()
    ctx, steps = context(tmp_path, engine)
    step_runner("mysql-database")(steps["db"], ctx)
    writes = len(engine.scripts)
    changed, _ = step_runner("mysql-database")(steps["db"], ctx)
    assert not changed
    assert all(s.startswith(("SELECT", "SHOW")) for s in engine.scripts[writes:])
    engine.grants.discard("DELETE")  # a run killed before its GRANT, say
    changed, detail = step_runner("mysql-database")(steps["db"], ctx)
    assert changed and detail.endswith("granted DELETE")
    assert "CREATE USER IF NOT EXISTS" in engine.scripts[-1]  # idempotent statements only


def test_a_user_with_another_password_is_refused(tmp_path):
    engine = FakeMariaDB("utf8mb4", "something else", ("SELECT",))
    ctx, steps = context(tmp_path, engine)
    with pytest.raises(StackctlError, match="password other than DB_PASS"):
        step_runner("mysql-database")(steps["db"], ctx)
    assert all(s.startswith("SELECT") for s in engine.scripts)


class Refusing(FakeMariaDB):
    """Answers `refusals` times with the client's error first, then like a server."""

    def __init__(self, error: bytes, refusals: int):
        super().__init__()
        self.error, self.refusals = error, refusals

    def exec_stream(self, container, argv, stdin, stdout, user=None) -> int:
        if self.refusals:
            self.refusals -= 1
            self._call("exec_stream", container, list(argv), user)
            stdout.write(self.error)
            return 1
        return super().exec_stream(container, argv, stdin, stdout, user)


def test_waits_while_the_server_starts_then_names_a_real_failure(tmp_path, monkeypatch):
    monkeypatch.setattr("stackctl.steps.mysql.time.sleep", lambda s: None)
    starting = Refusing(b"ERROR 2002 (HY000): Can't connect to local server through socket", 2)
    ctx, steps = context(tmp_path, starting)
    changed, _ = step_runner("mysql-database")(steps["db"], ctx)
    assert changed and starting.refusals == 0 and starting.grants
    denied = Refusing(b"ERROR 1045 (28000): Access denied for user 'root'@'localhost'", 9)
    ctx, steps = context(tmp_path, denied)
    with pytest.raises(StackctlError, match="Access denied"):
        step_runner("mysql-database")(steps["db"], ctx)
    assert denied.verbs() == ["exec_stream"]  # no retry on a real error


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("database", "ether`pad"),
        ("grants", ["SELECT; DROP DATABASE x"]),
        ("root_password_env", "X; rm -rf /"),
        ("host", "% OR 1"),
    ],
)
def test_unsafe_options_are_refused_before_any_sql(tmp_path, key, value):
    engine = FakeMariaDB()
    ctx, steps = context(tmp_path, engine)
    step = steps["db"]
    bad = Step(step.id, step.kind, step.title, step.phase, {**step.options, key: value})
    with pytest.raises(RecipeError):
        step_runner("mysql-database")(bad, ctx)
    assert engine.calls == []


# -- http-probe --------------------------------------------------------------------------------


@pytest.fixture
def server():
    answers: list[tuple[int, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            code, body = answers.pop(0) if len(answers) > 1 else answers[0]
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1], answers
    httpd.shutdown()


def test_probe_waits_for_the_expected_answer(tmp_path, server, monkeypatch):
    monkeypatch.setattr("stackctl.wait.time.sleep", lambda s: None)
    port, answers = server
    answers += [(503, b"starting"), (200, b'{"status":"fail"}'), (200, b'{"status":"pass"}')]
    ctx, steps = context(tmp_path, FakeEngine(), {"port": port})
    changed, detail = step_runner("http-probe")(steps["probe"], ctx)
    assert not changed and detail == f"http://127.0.0.1:{port}/health answers 200"
    assert answers == [(200, b'{"status":"pass"}')]  # the first two were not accepted


def test_probe_fails_with_the_last_answer(tmp_path, server):
    port, answers = server
    answers.append((302, b""))  # a redirect is not followed: it is the answer
    ctx, steps = context(tmp_path, FakeEngine(), {"port": port})
    with pytest.raises(StackctlError, match=r"did not answer HTTP 200 .*\(HTTP 302\)"):
        step_runner("http-probe")(steps["probe"], ctx)
