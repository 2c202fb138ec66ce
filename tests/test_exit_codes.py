"""Every command fails loudly: a failing `docker` or an unreachable engine is a non-zero exit and
one `error:` line with a hint, never a silent 0."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

FAKE_DOCKER = """#!/bin/sh
echo "Error response from daemon: No such container: stand-in" >&2
exit 1
"""


@pytest.fixture
def failing_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `docker` that always fails, and an engine socket that is not there."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")


@pytest.fixture
def deployed_files(site_file, run_cli, failing_docker):
    site_file()
    for stack in ("mastodon", "ente"):
        assert run_cli("secrets", "gen", stack).exit_code == 0


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "mastodon", "tootctl", "accounts", "list"],
        ["run", "mastodon", "media-remove"],
        ["run", "mastodon", "preview-cards-remove", "--days", "3"],
        ["logs", "mastodon"],
        ["logs", "-f", "mastodon"],
        ["logs", "mastodon", "web", "--grep", "anything"],
        ["logs", "-f", "--grep", "anything", "mastodon", "web"],
        ["logs", "--tail", "5", "ente", "museum"],
        ["extract", "ente", "ott", "me@test.lan"],
        ["deploy", "ente"],
        ["status", "ente"],
        ["images", "list", "ente"],
        ["images", "pull", "ente"],
        ["network", "plan", "ente"],
    ],
    ids=" ".join,
)
def test_a_failing_engine_is_a_non_zero_exit_and_one_error_line(deployed_files, run_cli, argv):
    result = run_cli(*argv)
    assert result.exit_code != 0, result.stdout + result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "hint: " in result.stderr
    assert "Traceback" not in result.stderr


def test_the_containers_exit_code_is_stackctls(deployed_files, run_cli, tmp_path):
    docker = tmp_path / "fakebin" / "docker"
    docker.write_text("#!/bin/sh\nexit 7\n")
    result = run_cli("run", "mastodon", "tootctl", "accounts", "list")
    assert result.exit_code == 7
    assert error_lines(result.stderr) == ["error: mastodon tootctl failed: tootctl exited with 7"]


def test_grep_does_not_hide_why_docker_failed(deployed_files, run_cli):
    result = run_cli("logs", "mastodon", "web", "--grep", "never-matches")
    assert "No such container" in result.stderr and result.exit_code == 1


def test_follow_ends_without_error_when_the_log_ends_cleanly(deployed_files, run_cli, tmp_path):
    (tmp_path / "fakebin" / "docker").write_text("#!/bin/sh\necho 'one line'\nexit 0\n")
    result = run_cli("logs", "-f", "mastodon", "web")
    assert result.exit_code == 0 and result.stdout == "one line\n"


@pytest.mark.parametrize(
    "argv", [["recipes"], ["secrets", "show", "ente"], ["recipes", "show", "ente"]], ids=" ".join
)
def test_engine_free_commands_import_no_engine_sdk_and_no_pydantic(site_file, tmp_path, argv):
    """What start-up costs most: pydantic (through typer >= 0.29) and the engine SDKs."""
    import subprocess
    import sys

    site_file()
    probe = (
        "import sys\n"
        f"sys.argv = ['stackctl', *{argv!r}]\n"
        "try:\n    from stackctl.entry import main; main()\n"
        "except SystemExit: pass\n"
        "heavy = ('pydantic', 'docker', 'python_on_whales')\n"
        "sys.stderr.write(repr(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stderr.splitlines()[-1] == "[]", done.stderr
