"""Compiled templates are kept between runs; a damaged or stale entry never changes output."""

from __future__ import annotations


def _render_all(tmp_path, run_cli) -> dict[str, bytes]:
    assert run_cli("render", "ente").exit_code == 0
    folder = tmp_path / "stacks/docker-ente"
    return {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file() and "." != p.name[0]}


def _new_command() -> None:
    """Forget the template environments one process keeps (each knows its cache folder)."""
    from stackctl import render
    from stackctl.proxy import templating

    render.environment.cache_clear()
    templating.environment.cache_clear()


def test_compiled_templates_are_kept_and_a_damaged_entry_is_compiled_again(
    site_file, run_cli, monkeypatch, tmp_path
):
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    site_file()
    _new_command()
    first = _render_all(tmp_path, run_cli)
    entries = list((cache / "stackctl").glob("templates-*/*"))
    assert entries, "nothing was kept"
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[:40] + b"\x00damaged")
    _new_command()  # templates loaded from the cache again
    for path in first:
        (tmp_path / path).unlink()
    try:
        assert _render_all(tmp_path, run_cli) == first
    finally:
        _new_command()  # later tests get environments with their own cache folder
