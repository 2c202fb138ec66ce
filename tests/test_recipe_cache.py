"""Checked recipes are kept between runs, and any change to what the checks read is seen."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stackctl import recipe, recipe_cache
from stackctl.errors import RecipeError
from stackctl.recipe import all_recipes, use_recipe_paths

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "recipes" / "example" / "greeter"


@pytest.fixture
def greeter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "recipes" / "greeter"
    shutil.copytree(EXAMPLE, folder)
    use_recipe_paths([folder.parent])
    return folder


def _reload() -> dict[str, recipe.Recipe]:
    all_recipes.cache_clear()
    return all_recipes()


def _refuse_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    def checked_again(folder: Path) -> recipe.Recipe:
        raise AssertionError(f"{folder} was checked again")

    monkeypatch.setattr(recipe, "load_recipe", checked_again)


def test_a_second_run_reads_the_checked_recipes_from_the_cache(greeter, monkeypatch):
    first = _reload()
    assert len(list((greeter.parents[1] / "cache" / "stackctl" / "recipes").iterdir())) == len(
        first
    )
    _refuse_checks(monkeypatch)
    assert _reload() == first


@pytest.mark.parametrize("changed", ["recipe.toml", "kinds.py", "docker-compose.yml.j2"])
def test_an_edited_recipe_file_is_checked_again(greeter, monkeypatch, changed):
    _reload()
    path = greeter / changed
    if changed == "recipe.toml":  # a typo the checks refuse
        path.write_text(path.read_text().replace('kind = "exec"', 'kind = "exce"', 1))
    elif path.exists():
        path.write_text(path.read_text() + "\n")
    else:  # a new kinds.py
        path.write_text('"""Nothing registered yet."""\n')
    checked = []
    real = recipe.load_recipe
    monkeypatch.setattr(recipe, "load_recipe", lambda f: checked.append(f) or real(f))
    if changed == "recipe.toml":
        with pytest.raises(RecipeError, match="unknown step kind 'exce'"):
            _reload()
    else:
        _reload()
    assert checked == [greeter]


def test_a_damaged_entry_is_checked_again(greeter, monkeypatch):
    first = _reload()
    for entry in (greeter.parents[1] / "cache" / "stackctl" / "recipes").iterdir():
        entry.write_bytes(b"not a pickle")
    assert _reload() == first


def test_a_cached_recipe_still_registers_its_own_kinds(greeter, monkeypatch):
    import sys

    from stackctl import recipe_module, values

    (greeter / "kinds.py").write_text(
        "from stackctl.values import value_kind\n\n"
        '@value_kind("cachetest-colour")\n'
        "def colour(value):\n    return value\n"
    )
    module = recipe_module.module_name(greeter)
    try:
        _reload()
        del values.KINDS["cachetest-colour"], sys.modules[module]  # as in a new process
        _refuse_checks(monkeypatch)
        _reload()
        assert module not in sys.modules  # imported only when one of its kinds is needed
        assert values.KINDS["cachetest-colour"]("red") == "red"
        assert module in sys.modules
    finally:
        values.KINDS.pop("cachetest-colour", None)
        sys.modules.pop(module, None)


def test_a_named_recipe_comes_with_its_own_code(greeter, monkeypatch):
    import sys

    from stackctl import recipe_module

    (greeter / "kinds.py").write_text('"""Nothing registered."""\n')
    module = recipe_module.module_name(greeter)
    _reload()
    sys.modules.pop(module)
    _reload()
    assert module not in sys.modules
    recipe.get_recipe("greeter")
    assert module in sys.modules
    sys.modules.pop(module)


def test_an_unwritable_cache_only_costs_speed(greeter, monkeypatch, tmp_path):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    assert "greeter" in _reload()
    assert recipe_cache.cached(recipe_cache.entry(greeter), greeter) is None
