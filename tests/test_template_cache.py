"""Compiled templates are kept between runs; a damaged or stale entry never changes output."""

from __future__ import annotations

import shutil


def _render_all(tmp_path, run_cli) -> dict[str, bytes]:
    assert run_cli("render", "ente").exit_code == 0
    folder = tmp_path / "stacks/docker-ente"
    return {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file() and "." != p.name[0]}


def _new_command() -> None:
    """Forget the template environments one process keeps (each knows its cache folder),
    and what rendering gave (so the next render loads the compiled templates)."""
    from stackctl import render, render_memo
    from stackctl.proxy import templating

    render_memo.forget()
    render.environment.cache_clear()
    render._expression.cache_clear()
    render._text.cache_clear()
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
    shutil.rmtree(cache / "stackctl" / "rendered")
    for path in first:
        (tmp_path / path).unlink()
    try:
        assert _render_all(tmp_path, run_cli) == first
    finally:
        _new_command()  # later tests get environments with their own cache folder


def test_recipe_expressions_are_kept_and_evaluate_as_jinja_s_own(tmp_path, monkeypatch):
    import pytest
    from jinja2 import Environment, StrictUndefined

    from stackctl import template_cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache = template_cache.bytecode_cache("check")
    env = Environment(undefined=StrictUndefined, bytecode_cache=cache)
    context = {"settings": {"tls": False, "hosts": ["a", "b"], "port": 8080}}
    for expression in (
        "settings.tls",
        "not settings.tls and settings.port > 80",
        "settings.hosts | length",
        "settings.hosts[1:]",
        "settings.get('absent')",
        "settings.absent",
        "'%}' in settings.hosts",
    ):
        expected = env.compile_expression(expression)(**context)
        assert template_cache.compile_expression(env, expression)(**context) == expected
    assert len(list((tmp_path / "stackctl" / "templates-check").iterdir())) == 6
    monkeypatch.setattr(env, "compile", lambda *a, **k: pytest.fail("compiled again"))
    assert template_cache.compile_expression(env, "settings.hosts | length")(**context) == 2
