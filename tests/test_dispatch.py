"""Commands run from the cached description of the CLI get exactly what typer would pass them,
and whatever the description is unsure of goes to typer."""

from __future__ import annotations

import functools
import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

from stackctl import cli, dispatch
from stackctl.commands import options

FAST = {
    "recipes": ["recipes", "show", "check"],
    "secrets": ["gen", "show", "set_secret", "rotate"],
    "plan": ["plan", "render"],
    "config": ["config"],
    "proxy": ["proxy", "host_snippets"],
}


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """The fast commands replaced by recorders of what they are called with."""
    calls: list[tuple[str, dict[str, Any]]] = []
    for module_name, names in FAST.items():
        module = importlib.import_module(f"stackctl.commands.{module_name}")
        for name in names:

            def record(function: Any) -> Any:
                @functools.wraps(function)
                def recorder(**kwargs: Any) -> None:
                    calls.append((function.__qualname__, kwargs))

                return recorder

            monkeypatch.setattr(module, name, record(getattr(module, name)))
    monkeypatch.setattr(options, "config_path", None)
    monkeypatch.setattr(options, "verbose", 0)
    return calls


def _group() -> Any:
    return typer.main.get_command(cli.build.__wrapped__(None))


def _plain(calls: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """Typer's context compared by what the commands read of it."""
    return [
        (name, {k: getattr(v, "invoked_subcommand", v) for k, v in kwargs.items()})
        for name, kwargs in calls
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["recipes"],
        ["recipes", "--json"],
        ["-v", "recipes"],
        ["-vv", "--config", "x.toml", "recipes", "--json"],
        ["--config=x.toml", "--verbose", "recipes", "show", "ente"],
        ["recipes", "show", "--json", "ente"],
        ["recipes", "check", "a", "b/c"],
        ["plan", "ente"],
        ["plan", "ente", "nextcloud", "--diff"],
        ["plan", "--all", "--json"],
        ["plan"],
        ["-c", "site.toml", "render", "--force", "ente"],
        ["secrets", "show", "ente", "--reveal"],
        ["secrets", "show", "-", "--json"],
        ["secrets", "gen"],
        ["secrets", "gen", "--dry-run", "a", "b"],
        ["secrets", "set", "ente", "X", "--force"],
        ["secrets", "rotate", "ente", "X"],
        ["config"],
        ["-c", "x.toml", "config", "--json"],
        ["proxy", "ente"],
        ["proxy", "ente", "--dialect", "nginx"],
        ["proxy", "-d", "caddy", "ente", "--json"],
        ["proxy", "ente", "--write", "--root", "/srv/proxy", "--force"],
        ["proxy", "--root=rel/dir", "--all-dialects", "ente"],
        ["host-snippets", "ente"],
        ["host-snippets", "--json", "ente"],
    ],
)
def test_the_description_calls_what_typer_calls(argv, recorded):
    _group().main(args=argv, prog_name="stackctl", standalone_mode=False)
    by_typer = (_plain(recorded), options.config_path, options.verbose)
    recorded.clear()
    options.config_path, options.verbose = None, 0

    call = dispatch.resolve(dispatch.describe(_group()), argv)
    assert call is not None, argv
    call.run()
    assert (_plain(recorded), options.config_path, options.verbose) == by_typer
    assert recorded, argv


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--help"],
        ["-h"],
        ["--version"],
        ["--install-completion"],
        ["plan", "--help"],
        ["plan", "-h"],
        ["plan", "--", "ente"],
        ["plan", "--bogus"],
        ["plan", "-x"],
        ["plan", "--json=yes"],
        ["recipes", "--bogus"],
        ["recipes", "show"],
        ["recipes", "show", "a", "b"],
        ["recipez"],
        ["secrets"],
        ["secrets", "show"],
        ["-c"],
        ["-c", "--verbose", "recipes"],
        ["-c=x.toml", "recipes"],
        ["-vc", "x.toml", "recipes"],
        ["config", "extra"],
        ["proxy"],
        ["proxy", "ente", "-d"],
        ["host-snippets"],
        ["deploy", "ente"],  # not (yet) run from the description
    ],
)
def test_what_the_description_is_unsure_of_goes_to_typer(argv):
    assert dispatch.resolve(dispatch.describe(_group()), argv) is None


def test_completion_goes_to_typer(monkeypatch):
    monkeypatch.setenv("_STACKCTL_COMPLETE", "complete_bash")
    assert dispatch.resolve(dispatch.describe(_group()), ["plan", "ente"]) is None


def _probe(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    probe = (
        f"import sys; sys.argv = ['stackctl', *{list(argv)!r}]\n"
        "try:\n    from stackctl.entry import main; main()\nexcept SystemExit: pass\n"
        "sys.stderr.write(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)


def test_a_described_command_runs_without_typer_and_follows_changes(tmp_path, site_file):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "STACKCTL_CONFIG": ""}
    env["STACKCTL_CONFIG"] = str(site_file())
    first = _probe(env, "recipes", "--json")
    second = _probe(env, "recipes", "--json")
    assert "typer" in first.stderr.split() and "typer" not in second.stderr.split()
    assert first.stdout == second.stdout and '"name": "ente"' in first.stdout
    (description,) = Path(tmp_path / "cache" / "stackctl").glob("commands*")
    description.write_text("{damaged")
    assert _probe(env, "recipes", "--json").stdout == first.stdout
    usage = _probe(env, "recipes", "--bogus")
    assert "typer" in usage.stderr.split() and "No such option: --bogus" in usage.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["recipes", "show", "nope"],
        ["plan", "nope"],
        ["secrets", "show", "nope", "--json"],
        ["proxy", "nope", "-d", "nginx"],
        ["host-snippets", "nope"],
        ["proxy", "ente", "--write", "--all-dialects"],
    ],
)
def test_a_described_command_fails_across_the_same_boundary(argv, tmp_path, site_file, run_cli):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env["STACKCTL_CONFIG"] = str(site_file())
    by_typer = run_cli(*argv)
    probe = (
        f"import sys; sys.argv = ['stackctl', *{argv!r}]\nfrom stackctl.entry import main; main()\n"
    )
    for _ in range(2):  # the second runs from the description
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env=env
        )
    assert (done.returncode, done.stderr, done.stdout) == (
        by_typer.exit_code,
        by_typer.stderr,
        by_typer.stdout,
    )
    assert done.returncode != 0 and done.stderr.startswith("error: ")


@pytest.mark.parametrize(
    "argv",
    [
        ["config"],
        ["config", "--json"],
        ["proxy", "ente", "--dialect", "nginx"],
        ["proxy", "ente", "-d", "caddy", "--json"],
        ["host-snippets", "ente"],
    ],
)
def test_a_described_command_prints_what_typer_prints(argv, tmp_path, site_file, run_cli):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env["STACKCTL_CONFIG"] = str(site_file())
    by_typer = run_cli(*argv)
    probe = (
        f"import sys; sys.argv = ['stackctl', *{argv!r}]\nfrom stackctl.entry import main; main()\n"
    )
    for _ in range(2):  # the second runs from the description
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env=env
        )
    assert (done.returncode, done.stderr, done.stdout) == (0, by_typer.stderr, by_typer.stdout)
    assert done.stdout
