"""Each service's backup is declared in its recipe and checked when the recipe loads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stackctl.recipe import all_recipes, load_recipe
from stackctl.recipe_check import check_folder

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "recipes" / "example" / "greeter"


@pytest.fixture
def greeter(tmp_path: Path) -> Path:
    folder = tmp_path / "recipes" / "greeter"
    shutil.copytree(EXAMPLE, folder)
    return folder


def with_data(folder: Path, backup: str, data_dirs: str = '["db", "cache"]') -> None:
    path = folder / "recipe.toml"
    text = path.read_text()
    text = text.replace('app_version = "1"', f'app_version = "1"\ndata_dirs = {data_dirs}', 1)
    text = text.replace('role = "answers', f'backup = {backup}\nrole = "answers', 1)
    path.write_text(text)


def keys(folder: Path) -> dict[str, str]:
    return {p.key: p.message for p in check_folder(folder)}


def test_a_declared_backup_loads_with_its_folders(greeter):
    with_data(greeter, '{ method = "postgres-dump", data = ["db"], exclude = ["cache"] }')
    assert keys(greeter) == {}
    spec = load_recipe(greeter).service("web").backup
    assert spec is not None and spec.is_dump and spec.data == ("db",) and spec.exclude == ("cache",)


@pytest.mark.parametrize(
    ("backup", "key", "message"),
    [
        ('{ method = "copy", data = ["db", "cache"] }', "services.web.backup.method", "unknown method 'copy'"),
        ('{ method = "files", data = ["db"] }', "data_dirs[cache]", "no service's backup claims it"),
        ('{ method = "files", data = ["db", "cache", "logs"] }', "services.web.backup.data", "names no data folder 'logs'"),
        ('{ method = "files", data = ["db", "cache"], compress = true }', "services.web.backup.compress", "unknown option"),
        ('{ data = ["db", "cache"] }', "services.web.backup.method", "is required"),
        ('{ method = "exclude", data = ["db", "cache"] }', "services.web.backup.data", "excluded service keeps nothing"),
        ('{ method = "files", data = ["db", "cache"], password_env = "X" }', "services.web.backup.password_env", "only a mariadb-dump"),
        ('"files"', "services.web.backup", "must be a table"),
    ],
)  # fmt: skip
def test_each_backup_mistake_is_named_with_its_key(greeter, backup, key, message):
    with_data(greeter, backup)
    found = keys(greeter)
    assert key in found, found
    assert message in found[key]


def test_a_folder_claimed_twice_is_refused(greeter):
    with_data(greeter, '{ method = "files", data = ["db", "cache"] }')
    text = (greeter / "recipe.toml").read_text()
    text += '\n[services.db]\nimage = "postgres"\ntag = "17"\nbackup = { method = "postgres-dump", data = ["db"] }\n'
    (greeter / "recipe.toml").write_text(text)
    assert "claimed by web too" in keys(greeter)["services.db.backup.data"]


def test_every_shipped_database_is_dumped_never_copied():
    for recipe in all_recipes().values():
        for service in recipe.services:
            if service.image in ("postgres", "mariadb", "mysql"):
                assert service.backup is not None and service.backup.is_dump, (
                    f"{recipe.name}.{service.name}"
                )
