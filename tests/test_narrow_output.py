"""Nothing a user must read is cut: at 80 columns and with stdout a pipe, tables become
one record per row instead of ending cells in `…`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from stackctl.recipe import all_recipes


def piped(*args: str, columns: int = 80) -> str:
    env = {**os.environ, "COLUMNS": str(columns)}
    env.pop("STACKCTL_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-m", "stackctl", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("name", sorted(all_recipes()))
def test_recipes_show_cuts_nothing_at_80_columns_in_a_pipe(name):
    text = piped("recipes", "show", name)
    recipe = all_recipes()[name]
    assert "…" not in text
    for secret in recipe.secrets:
        assert f"  {secret.name}\n" in text  # whole, once per secret
    for setting in recipe.settings:
        assert setting.help in text, setting.name  # the meaning, whole (Jellyfin's memory reason)
    for common in ("bind_address", "upstream_host", "enabled"):
        assert f"  {common}\n" in text  # the settings every stack has are listed too


def test_recipe_list_cuts_nothing():
    text = piped("recipes")
    assert "…" not in text
    for recipe in all_recipes().values():
        assert recipe.description in text


def test_a_wide_status_row_keeps_every_port(monkeypatch, capsys):
    from stackctl import console
    from stackctl.views import print_table

    monkeypatch.setattr(console.out, "width", 80)
    ports = ", ".join(f"127.0.0.1:{p}->{p}/tcp" for p in range(3300, 3306))
    print_table(
        "stacks",
        ["stack", "service", "container", "state", "health", "ports"],
        [["ente", "web", "ente-web", "running", "healthy", ports]],
    )
    out = capsys.readouterr().out
    assert ports in out and "…" not in out


def test_a_table_that_fits_stays_a_table(capsys):
    from stackctl.views import print_table

    print_table("images", ["service", "image"], [["museum", "ghcr.io/ente/server:abc"]])
    out = capsys.readouterr().out
    assert "┃ service" in out and "ghcr.io/ente/server:abc" in out
