"""The example recipe, copied for a test with a data folder `db` that `web` dumps as Postgres."""

from __future__ import annotations

import shutil
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "recipes" / "example" / "greeter"


def greeter_with_dumped_db(recipes: Path) -> Path:
    """Copy the example greeter under `recipes`; its `web` owns `db`, backed up as a dump."""
    folder = recipes / "greeter"
    shutil.copytree(EXAMPLE, folder)
    toml = folder / "recipe.toml"
    text = toml.read_text().replace('app_version = "1"', 'app_version = "1"\ndata_dirs = ["db"]')
    text = text.replace(
        'role = "answers', 'backup = { method = "postgres-dump", data = ["db"] }\nrole = "answers'
    )
    toml.write_text(text)
    return folder
