"""A newcomer's first commands: `stackctl --help` reads whole sentences in groups at 80
columns, shell completion is on, and `stackctl config` says which settings are in effect."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from stackctl.commands._help import PANELS, SUMMARIES


def help_text(columns: int = 80) -> str:
    env = {**os.environ, "COLUMNS": str(columns), "XDG_CACHE_HOME": "/nonexistent/cache"}
    done = subprocess.run(
        [sys.executable, "-m", "stackctl", "--help"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_help_lists_every_command_in_a_group_with_a_whole_sentence():
    text = help_text(80)
    commands_part = text[text.index(PANELS[0] + ":") :]
    for panel in PANELS:
        assert f"\n{panel}:\n" in "\n" + commands_part
    listed = re.findall(r"^  (\S+)\s+(.+)$", commands_part, re.MULTILINE)
    names = {name for name, _ in listed}
    assert set(SUMMARIES) <= names
    for name, summary in listed:
        assert summary.endswith("."), f"{name}: {summary!r} is cut"
        assert "..." not in summary and not summary.endswith("e.g."), name
    assert all(len(line) <= 80 for line in text.splitlines())


def test_shell_completion_is_offered():
    text = help_text()
    assert "--install-completion" in text and "--show-completion" in text


def test_config_says_when_the_defaults_are_in_effect(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STACKCTL_CONFIG", raising=False)
    import stackctl.settings as settings

    monkeypatch.setattr(settings, "SYSTEM_CONFIG", tmp_path / "absent.toml")
    result = run_cli("config")
    assert result.exit_code == 0
    assert "none found" in result.stdout and "built-in defaults" in result.stdout
    assert "/usr/local/docker-<stack>" in result.stdout
    assert "stackctl init" in result.stdout


def test_config_names_the_file_in_effect(run_cli, site_file, tmp_path):
    path = site_file("[stacks.ente]\nenabled = true\n")
    shown = json.loads(run_cli("config", "--json").stdout)
    assert shown["file"] == str(path) and shown["found_by"] == "$STACKCTL_CONFIG"
    assert shown["stack_folder"] == f"{tmp_path}/stacks/docker-<stack>"
    assert shown["proxy_root"] == f"{tmp_path}/proxyroot"
    assert shown["enabled_stacks"] == ["ente"]


def test_shell_completion_offers_commands_and_stack_names():
    def complete(*words: str) -> list[str]:
        env = {
            **os.environ,
            "_STACKCTL_COMPLETE": "complete_bash",
            "COMP_WORDS": " ".join(["stackctl", *words]),
            "COMP_CWORD": str(len(words)),
        }
        done = subprocess.run(
            [str(Path(sys.executable).parent / "stackctl")],  # the console script
            capture_output=True,
            text=True,
            env=env,
        )
        return done.stdout.split()

    assert "deploy" in complete("dep")
    assert complete("plan", "ent") == ["ente"]
