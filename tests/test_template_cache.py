"""Compiled templates are kept between runs; a damaged or stale entry never changes output."""

from __future__ import annotations


def _render_all(tmp_path, run_cli) -> dict[str, bytes]:
    assert run_cli("render", "ente").exit_code == 0
    folder = tmp_path / "stacks/docker-ente"
    return {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file() and "." != p.name[0]}


def test_compiled_templates_are_kept_and_a_damaged_entry_is_compiled_again(
    site_file, run_cli, monkeypatch, tmp_path
):
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    site_file()
    first = _render_all(tmp_path, run_cli)
    entries = list((cache / "stackctl").glob("templates-*/*"))
    assert entries, "nothing was kept"
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[:40] + b"\x00damaged")
    from stackctl import render
    from stackctl.proxy import templating

    render.environment.cache_clear()  # a new command: templates loaded from the cache again
    templating.environment.cache_clear()
    for path in first:
        (tmp_path / path).unlink()
    assert _render_all(tmp_path, run_cli) == first
