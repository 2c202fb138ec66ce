"""Recipes are checked when they load, user recipes work like shipped ones, kinds are open."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stackctl import recipe_check, registry, secrets
from stackctl.errors import RecipeError
from stackctl.recipe import Secret, load_recipe
from stackctl.recipe_check import check_folder

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "recipes" / "example" / "greeter"


@pytest.fixture
def greeter(tmp_path: Path) -> Path:
    folder = tmp_path / "recipes" / "greeter"
    shutil.copytree(EXAMPLE, folder)
    return folder


def edit(folder: Path, old: str, new: str) -> None:
    path = folder / "recipe.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_the_example_recipe_is_clean_and_renders(greeter):
    assert check_folder(greeter) == []
    recipe = load_recipe(greeter)
    assert [s.name for s in recipe.services] == ["web"]


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        (
            'argv = ["test"',
            'phase = "after_up"\nargv = ["test"',
            "bootstrap[greeting-mounted].phase",
            "unknown phase 'after_up'",
        ),
        (
            'kind = "exec"',
            'kind = "exek"',
            "bootstrap[greeting-mounted].kind",
            "unknown step kind 'exek'",
        ),
        (
            'service = "web"\nargv',
            'servce = "web"\nargv',
            "bootstrap[greeting-mounted].servce",
            "unknown option",
        ),
        ('service = "web"\nargv', "argv", "bootstrap[greeting-mounted].service", "is required"),
        (
            'argv = ["test", "-s", "/srv/greeting.txt"]',
            'argv = "test -s"',
            "bootstrap[greeting-mounted].argv",
            "must be a list",
        ),
        ('kind = "text"', 'kind = "txt"', "settings.greeting.kind", "unknown kind 'txt'"),
        (
            'format = "alnum"',
            'format = "alnumm"',
            "secrets[GREETER_TOKEN].format",
            "unknown format",
        ),
        ('app_version = "1"', 'app_version = "1"\nvesion = "2"', "vesion", "unknown key"),
        ('role = "answers', 'rol = "answers', "services.web.rol", "unknown key"),
        (
            'template = "greeting.txt.j2"',
            'template = "nope.j2"',
            "files[greeting.txt].template",
            "no template nope.j2",
        ),
        ("{{ settings.port }}`", "{{ settings.prot }}`", "next_steps[0]", "uses settings.prot"),
        (
            'name = "GREETER_TOKEN"',
            'name = "GREETER_TOKEN"\n\n[[actions]]\nname = "hi"\nkind = "exec"\nhelp = "h"\n'
            'argument = "X"\nargument_kind = "nonsense"\nservice = "web"\nargv = ["true"]\n\n[[secrets]]\nname = "T2"',
            "actions[hi].argument_kind",
            "unknown kind 'nonsense'",
        ),
    ],
)
def test_each_mistake_is_named_with_its_file_and_key(greeter, old, new, key, message):
    edit(greeter, old, new)
    problems = check_folder(greeter)
    assert any(p.key == key and message in p.message for p in problems), problems
    assert all(p.file.is_relative_to(greeter) for p in problems)
    with pytest.raises(RecipeError) as refused:  # the loader refuses it too
        load_recipe(greeter)
    assert str(greeter / "recipe.toml") in refused.value.message


def test_a_setting_a_template_uses_but_never_declares_is_named_with_the_template(greeter):
    (greeter / "greeting.txt.j2").write_text("{{ settings.greeting }} {{ settings['colour'] }}\n")
    problems = check_folder(greeter)
    assert [(p.file.name, p.message) for p in problems] == [
        ("greeting.txt.j2", "uses settings.colour, which the recipe does not declare")
    ]


def test_check_command_lists_every_problem_and_fails(greeter, run_cli):
    edit(greeter, 'kind = "text"', 'kind = "txt"')
    edit(greeter, 'kind = "exec"', 'kind = "exek"')
    result = run_cli("recipes", "check", str(greeter))
    assert result.exit_code == 1
    assert "settings.greeting.kind" in result.stderr
    assert "bootstrap[greeting-mounted].kind" in result.stderr
    assert "2 problem(s) in 1 recipe folder(s)" in result.stderr
    clean = run_cli("recipes", "check", str(EXAMPLE))
    assert clean.exit_code == 0 and "no problems" in clean.stdout


def test_a_user_recipe_folder_works_like_a_shipped_one(greeter, site_file, run_cli, tmp_path):
    site_file(extra=f'recipe_paths = ["{greeter.parent}"]\n')
    listed = run_cli("recipes", "--json")
    assert "greeter" in listed.stdout
    rendered = run_cli("render", "greeter")
    assert rendered.exit_code == 0, rendered.stderr
    greeting = tmp_path / "stacks" / "docker-greeter" / "greeting.txt"
    assert greeting.read_text() == "hello from test.lan\n"


def test_a_user_recipe_cannot_take_a_shipped_recipes_name(greeter, site_file, run_cli):
    edit(greeter, 'name = "greeter"', 'name = "ente"')
    site_file(extra=f'recipe_paths = ["{greeter.parent}"]\n')
    result = run_cli("recipes")
    assert result.exit_code == 1
    assert "two recipes are named 'ente'" in result.stderr


def test_a_recipe_module_registers_its_own_kinds_for_itself_only(greeter, tmp_path):
    (greeter / "kinds.py").write_text(
        "from stackctl.steps import step_kind\n"
        "from stackctl.schema import required\n"
        "from stackctl.values import value_kind\n\n"
        '@step_kind("greeter-wave", {"times": required(int)})\n'
        "def wave(step, ctx):\n    return False, 'waved'\n\n"
        '@value_kind("greeter-colour")\n'
        "def colour(value):\n    return value\n"
    )
    edit(greeter, 'kind = "exec"', 'kind = "greeter-wave"\ntimes = 2')
    edit(greeter, 'service = "web"\nargv = ["test", "-s", "/srv/greeting.txt"]\n', "")
    edit(greeter, 'kind = "text"', 'kind = "greeter-colour"')
    assert check_folder(greeter) == []
    # a second recipe may not use them: they are the first one's business
    other = tmp_path / "recipes" / "other"
    shutil.copytree(EXAMPLE, other)
    edit(other, 'name = "greeter"', 'name = "other"')
    edit(other, 'kind = "exec"', 'kind = "greeter-wave"\ntimes = 2')
    assert [p.key for p in check_folder(other)] == ["bootstrap[greeting-mounted].kind"]


def test_a_second_registration_of_a_name_is_an_error():
    with pytest.raises(RecipeError, match="secret format 'hex' is registered twice"):
        secrets.secret_format("hex")(lambda spec: "x")
    assert registry.usable(secrets.FORMATS, "nobody") >= {"hex", "alnum", "base64"}


@pytest.mark.parametrize(
    ("spec", "value", "problem"),
    [
        (Secret("H", "hex", bytes=4), "ABCDEF01", "lower-case hex"),
        (Secret("H", "hex", bytes=4), "abcdef", "8 lower-case hex"),
        (Secret("A", "alnum", length=6), "abc-de", "6 letters and digits"),
    ],
)
def test_hex_and_alnum_are_checked_by_the_core(spec, value, problem):
    assert problem in (secrets.check_format(spec, value) or "")
    assert secrets.check_format(spec, secrets.generate(spec)) is None


def test_every_shipped_recipe_passes_the_check_render_included():
    from stackctl.recipe import all_recipes

    for recipe in all_recipes().values():
        assert check_folder(recipe.folder) == [], recipe.name


def test_a_folder_that_passed_is_not_checked_again_until_a_file_changes(
    greeter, run_cli, monkeypatch, tmp_path
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = run_cli("recipes", "check", str(greeter))
    checked: list[Path] = []
    real = recipe_check.check_folder
    monkeypatch.setattr(recipe_check, "check_folder", lambda f: checked.append(f) or real(f))
    again = run_cli("recipes", "check", str(greeter))
    assert (again.exit_code, again.stdout) == (first.exit_code, first.stdout) == (0, first.stdout)
    assert checked == [] and "no problems" in again.stdout
    edit(greeter, 'kind = "text"', 'kind = "txt"')
    broken = run_cli("recipes", "check", str(greeter))
    assert broken.exit_code == 1 and "settings.greeting.kind" in broken.stderr
    assert checked == [greeter]
    twice = run_cli("recipes", "check", str(greeter), str(greeter))
    assert twice.exit_code == 1 and checked == [greeter] * 3  # several: checked every time
