"""The CLI through its real entry point: errors are one clear line, exit non-zero, and change nothing."""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def rendered(site_file, run_cli, tmp_path):
    """A stack whose files are written, to prove that a bad run changes none of them."""
    site_file()
    assert run_cli("secrets", "gen", "ente").exit_code == 0
    result = run_cli("render", "ente")
    assert result.exit_code == 0, result.stderr
    return tmp_path


def rewrite(path: Path, extra: str) -> None:
    path.write_text(path.read_text() + extra)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[stacks.ente]\napi_hostnme = 'x.lan'\n", "unknown key stacks.ente.api_hostnme"),
        ("[stacks.ente]\napi_hostname = 'not a host'\n", "stacks.ente.api_hostname"),
        ("[stacks.ente]\nsubnet = '10.213.0.1/24'\n", "stacks.ente.subnet"),
        ("[stacks.ente]\napi_port = 3322\n", "both publish port 3322"),
        ("[stacks.nextcloud]\n", "[stacks.nextcloud]"),
    ],
)
def test_bad_settings_fail_clearly_and_change_nothing(rendered, run_cli, extra, message):
    before = snapshot(rendered)
    rewrite(rendered / "stackctl.toml", extra)
    before["stackctl.toml"] = (rendered / "stackctl.toml").read_bytes()
    result = run_cli("render", "ente")
    assert result.exit_code != 0
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(rendered) == before


def test_overlapping_explicit_subnet_is_refused(rendered, run_cli):
    before = snapshot(rendered)
    # another stack already owns 10.213.7.0/24
    other = rendered / "stacks" / "docker-mastodon" / ".stackctl"
    other.mkdir(parents=True)
    (other / "state.json").write_text('{"network": {"subnet": "10.213.7.0/24"}}')
    rewrite(rendered / "stackctl.toml", "[stacks.ente]\nsubnet = '10.213.0.0/16'\n")
    result = run_cli("plan", "ente")
    assert result.exit_code == 2 and "overlaps 10.213.7.0/24 (stack mastodon)" in result.stderr
    for key, value in before.items():
        if key != "stackctl.toml":
            assert (rendered / key).read_bytes() == value


def test_port_taken_is_refused_before_anything_is_written(site_file, tmp_path):
    from stackctl.commands.options import site
    from stackctl.deploy import deploy
    from stackctl.engine_fake import FakeEngine
    from stackctl.errors import SettingsError
    from stackctl.plan import plan_stack
    from stackctl.stack import open_stack

    engine = FakeEngine()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        site_file(extra=f"[stacks.ente]\napi_port = {port}\n")
        with pytest.raises(SettingsError, match=f"port {port}"):
            deploy(plan_stack(open_stack("ente", site()), engine), engine)
    assert not (tmp_path / "stacks").exists()
    assert not (tmp_path / "data").exists()


def test_hand_edit_is_a_conflict_and_force_keeps_a_backup(rendered, run_cli):
    compose = rendered / "stacks" / "docker-ente" / "docker-compose.yml"
    compose.write_text(compose.read_text() + "# my tweak\n")
    plan = run_cli("plan", "ente", "--diff")
    assert (
        "conflict" in plan.stdout
        and "+# my tweak" not in plan.stdout
        and "-# my tweak" in plan.stdout
    )
    refused = run_cli("render", "ente")
    assert refused.exit_code == 3 and "docker-compose.yml" in refused.stderr
    assert compose.read_text().endswith("# my tweak\n")
    forced = run_cli("render", "ente", "--force")
    assert forced.exit_code == 0
    assert not compose.read_text().endswith("# my tweak\n")
    assert any(
        p.name.startswith("docker-compose.yml.stackctl-backup-") for p in compose.parent.iterdir()
    )


def test_secrets_show_masks_unless_reveal(rendered, run_cli):
    env = (rendered / "stacks" / "docker-ente" / ".env").read_text()
    key = next(
        line.split("=", 1)[1] for line in env.splitlines() if line.startswith("ENTE_KEY_HASH=")
    )
    masked = run_cli("secrets", "show", "ente")
    assert key not in masked.stdout and "ENTE_KEY_HASH" in masked.stdout
    shown = run_cli("secrets", "show", "ente", "--reveal", "--json")
    assert key in shown.stdout
    refused = run_cli("secrets", "rotate", "ente", "ENTE_KEY_HASH")
    assert refused.exit_code == 1 and "locks everyone out" in refused.stderr


def test_init_writes_a_starter_file_that_loads(tmp_path, run_cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STACKCTL_CONFIG", raising=False)
    assert run_cli("init").exit_code == 0
    from stackctl.settings import load_site

    assert load_site(tmp_path / "stackctl.toml").domain == "example.lan"
    assert run_cli("init").exit_code == 0  # identical: nothing to do
    (tmp_path / "stackctl.toml").write_text("domain = 'mine.lan'\n")
    assert run_cli("init").exit_code == 1
    assert (tmp_path / "stackctl.toml").read_text() == "domain = 'mine.lan'\n"


def test_recipes_list_and_show(run_cli, site_file):
    site_file()
    listing = run_cli("recipes", "--json")
    assert '"name": "ente"' in listing.stdout
    shown = run_cli("recipes", "show", "ente")
    for word in (
        "ENTE_KEY_ENCRYPTION",
        "ente.lan",
        "buckets",
        "ott",
        "promote-admin",
        "ente.test.lan",
    ):
        assert word in shown.stdout
    assert run_cli("recipes", "show", "nope").stderr.startswith("error: no recipe named 'nope'")


def test_help_does_not_import_the_engine_sdks():
    code = "import sys; sys.argv=['stackctl','--help']\ntry:\n    from stackctl.cli import main; main()\nexcept SystemExit: pass\nprint(sorted(m for m in sys.modules if m.split('.')[0] in ('docker','python_on_whales','jinja2')))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ}, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"
    assert "deploy" in out


def test_unexpected_errors_hide_the_traceback_unless_verbose(run_cli, site_file, monkeypatch):
    site_file()

    def boom(*args, **kwargs):
        raise RuntimeError("secret-free boom")

    monkeypatch.setattr("stackctl.recipe.all_recipes", boom)
    quiet = run_cli("recipes")
    assert quiet.exit_code == 70 and "Traceback" not in quiet.stderr and "-v" in quiet.stderr
    loud = run_cli("-v", "recipes")
    assert "Traceback" in loud.stderr


def test_help_cache_serves_without_typer_and_follows_changes(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "COLUMNS": "80"}
    probe = "import sys, runpy; sys.argv=['stackctl','--help']\ntry:\n    from stackctl.entry import main; main()\nexcept SystemExit: pass\nsys.stderr.write('typer' if 'typer' in sys.modules else 'no-typer')"
    first = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    second = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert first.stderr == "typer" and second.stderr == "no-typer"
    assert first.stdout == second.stdout and "deploy" in first.stdout
    assert len(list((tmp_path / "stackctl").iterdir())) == 1
    narrow = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env={**env, "COLUMNS": "60"}
    )
    assert narrow.stderr == "typer" and max(len(line) for line in narrow.stdout.splitlines()) <= 60


def test_plan_lists_the_proxy_config_at_the_servers_path(site_file, run_cli, tmp_path):
    site_file()
    sites = tmp_path / "proxyroot" / "etc" / "apache2" / "sites-available"
    shown = run_cli("plan", "ente", "--json")
    assert not any(
        "sites-available" in f["path"] for f in __import__("json").loads(shown.stdout)[0]["files"]
    )
    sites.mkdir(parents=True)
    shown = run_cli("plan", "ente")
    assert f"create {sites}/stackctl-ente.conf" in " ".join(shown.stdout.split())
    assert not sites.joinpath("stackctl-ente.conf").exists()  # plan writes nothing


def test_every_command_is_indexed_by_the_module_that_registers_it():
    from stackctl import cli

    for module in cli._command_modules():
        app = cli._new_app()
        importlib.import_module(f"stackctl.commands.{module}").register(app)
        names = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
        assert names and all(cli.COMMAND_MODULES.get(n) == module for n in names), module


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (["plan", "ente"], "plan"),
        (["-c", "plan", "secrets", "show"], "secrets"),
        (["--config=x.toml", "-vv", "render"], "plan"),
        (["--verbose", "recipes"], "recipes"),
        (["--help"], None),
        (["--version", "plan"], None),
        (["bogus"], None),
        ([], None),
    ],
)
def test_a_named_command_builds_only_its_own_module(argv, module):
    from stackctl import cli

    assert cli._module_for(argv) == module
