"""A stack reads a value another stack publishes: order and errors follow the declaration."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stackctl.errors import RecipeError
from stackctl.recipe_check import check_folder
from stackctl.shared import deploy_order

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "recipes" / "example" / "greeter"


def recipe(root: Path, name: str, port: int, extra: str) -> Path:
    folder = root / name
    shutil.copytree(EXAMPLE, folder)
    toml = folder / "recipe.toml"
    text = toml.read_text().replace('name = "greeter"', f'name = "{name}"', 1)
    text = text.replace("default = 8089", f"default = {port}", 1)
    toml.write_text(text + extra)
    return folder


@pytest.fixture
def pair(tmp_path: Path, site_file) -> Path:
    """`pub` publishes its token; `reader` reads it into a secret file."""
    root = tmp_path / "recipes"
    recipe(root, "pub", 8101, '\n[[publishes]]\nvalue = "token"\nsecret = "GREETER_TOKEN"\n')
    reader = recipe(
        root,
        "reader",
        8102,
        '\n[[reads]]\nstack = "pub"\nvalue = "token"\ninto = "PUB_TOKEN"\n'
        '\n[[files]]\npath = "token.conf"\ntemplate = "token.conf.j2"\nsecret = true\n',
    )
    (reader / "token.conf.j2").write_text("token = {{ secrets.PUB_TOKEN }}\n")
    site_file(extra=f'recipe_paths = ["{root}"]\n')
    return tmp_path / "stacks"


def test_the_reader_before_the_publisher_is_told_which_stack_to_deploy_first(pair, run_cli):
    result = run_cli("render", "reader")
    assert result.exit_code == 1
    assert "needs 'token' from stack pub" in result.stderr
    assert "deploy pub first" in result.stderr
    assert not (pair / "docker-reader" / "token.conf").exists()


def test_the_reader_gets_the_publishers_value_and_follows_a_rotation(pair, run_cli):
    assert run_cli("secrets", "gen", "pub").exit_code == 0
    token = (pair / "docker-pub" / ".env").read_text().split("GREETER_TOKEN=")[1].split()[0]
    rendered = run_cli("render", "reader")
    assert rendered.exit_code == 0, rendered.stderr
    conf = pair / "docker-reader" / "token.conf"
    assert conf.read_text() == f"token = {token.strip(chr(39))}\n"
    assert conf.stat().st_mode & 0o777 == 0o600
    assert run_cli("secrets", "rotate", "pub", "GREETER_TOKEN").exit_code == 0
    assert run_cli("render", "reader").exit_code == 0
    assert conf.read_text() != f"token = {token.strip(chr(39))}\n"


def test_deploy_order_puts_publishers_first_and_refuses_a_circle(pair, tmp_path):
    from stackctl.recipe import use_recipe_paths

    use_recipe_paths([tmp_path / "recipes"])
    assert deploy_order(["reader", "ente", "pub"]) == ["pub", "reader", "ente"]
    assert deploy_order(["reader"]) == ["reader"]  # the publisher is not ours to deploy
    with (tmp_path / "recipes" / "pub" / "recipe.toml").open("a") as toml:
        toml.write('\n[[reads]]\nstack = "reader"\nvalue = "x"\ninto = "X"\n')
    use_recipe_paths([])
    use_recipe_paths([tmp_path / "recipes"])
    with pytest.raises(RecipeError, match="in a circle: reader -> pub -> reader"):
        deploy_order(["reader", "pub"])


def test_declarations_are_checked(tmp_path):
    folder = recipe(
        tmp_path,
        "odd",
        8103,
        '\n[[publishes]]\nvalue = "v"\nsecret = "NOPE"\n'
        '\n[[publishes]]\nvalue = "w"\n'
        '\n[[reads]]\nstack = "odd"\nvalue = "v"\ninto = "GREETER_TOKEN"\n',
    )
    assert {p.key for p in check_folder(folder)} == {
        "publishes[v].secret",
        "publishes[w]",
        "reads[v].stack",
        "reads[v].into",
    }
