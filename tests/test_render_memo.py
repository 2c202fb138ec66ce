"""What rendering gave is kept with the digest of its inputs: a plan from unchanged inputs
loads no Jinja, and any changed input (a setting, a template, a secret) renders anew."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from stackctl import render_memo

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "recipes" / "example" / "greeter"


def _run(env: dict[str, str], *argv: str) -> tuple[str, set[str]]:
    probe = (
        f"import sys; sys.argv = ['stackctl', *{list(argv)!r}]\n"
        "try:\n    from stackctl.entry import main; main()\nexcept SystemExit: pass\n"
        "sys.stderr.write('\\n' + ' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    return done.stdout, set(done.stderr.splitlines()[-1].split())


def test_a_plan_from_unchanged_inputs_loads_no_jinja(site_file, tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env["STACKCTL_CONFIG"] = str(site_file())
    first, loaded_first = _run(env, "plan", "ente", "--json")
    second, loaded_second = _run(env, "plan", "ente", "--json")
    assert "jinja2" in loaded_first and "jinja2" not in loaded_second
    assert first == second and json.loads(first)[0]["files"]


def test_a_changed_setting_renders_anew(site_file, run_cli, tmp_path):
    site_file()
    assert run_cli("render", "ente").exit_code == 0
    compose = tmp_path / "stacks" / "docker-ente" / "docker-compose.yml"
    assert "test.lan" in compose.read_text()
    site_file().write_text(site_file().read_text().replace("test.lan", "other.lan"))
    shown = run_cli("plan", "ente", "--json")
    assert {f["path"]: f["action"] for f in json.loads(shown.stdout)[0]["files"]}[
        "docker-compose.yml"
    ] == "update"


def test_an_edited_template_renders_anew_in_the_next_command(tmp_path, site_file):
    recipes = tmp_path / "recipes"
    shutil.copytree(EXAMPLE, recipes / EXAMPLE.name)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env["STACKCTL_CONFIG"] = str(site_file(f'recipe_paths = ["{recipes}"]'))
    _run(env, "render", "greeter")
    greeting = tmp_path / "stacks" / "docker-greeter" / "greeting.txt"
    assert greeting.read_text() == "hello from test.lan\n"
    template = recipes / "greeter" / "greeting.txt.j2"
    template.write_text(template.read_text() + "and more\n")
    shown, _ = _run(env, "plan", "greeter", "--json")
    assert {f["path"]: f["action"] for f in json.loads(shown)[0]["files"]}[
        "greeting.txt"
    ] == "update"
    _run(env, "render", "greeter")
    assert greeting.read_text() == "hello from test.lan\nand more\n"


def test_a_file_marked_secret_is_never_kept(tmp_path, site_file, run_cli, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    render_memo.forget()
    site_file()
    assert run_cli("secrets", "gen", "mastodon").exit_code == 0
    assert run_cli("render", "mastodon").exit_code == 0
    render_memo.forget()  # what was added is written now
    env = (tmp_path / "stacks" / "docker-mastodon" / ".env").read_text()
    values = [line.split("=", 1)[1].strip("'\"") for line in env.splitlines() if "=" in line]
    kept = "".join(p.read_text() for p in (tmp_path / "cache" / "stackctl" / "rendered").iterdir())
    assert kept and values
    assert not [value for value in values if len(value) >= 12 and value in kept]


def test_results_json_would_change_are_not_kept(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    render_memo.forget()
    calls = []

    def render(value):
        def run():
            calls.append(value)
            return value

        return run

    for value in (("a", "b"), {"k": 1}, ["a", "b"], True):
        for _ in range(2):
            assert render_memo.remembered("scope", "t", repr(value), {}, render(value)) == value
    assert calls == [("a", "b"), ("a", "b"), {"k": 1}, {"k": 1}, ["a", "b"], True]
    render_memo.forget()
