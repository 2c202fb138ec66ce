"""Put stacks/ and templates/ inside the wheel as stackctl/_data, leaving out each recipe's
tests (stacks/<app>/tests): they run from a checkout and are no use to an installed copy.
A hook because force-include copies a folder whole and no exclude applies to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

DATA = ("stacks", "templates")


class DataFiles(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version != "standard":  # an editable install reads stacks/ from the checkout
            return
        root = Path(self.root)
        for top in DATA:
            for path in sorted((root / top).rglob("*")):
                relative = path.relative_to(root)
                if path.is_file() and not _skipped(relative):
                    build_data["force_include"][str(path)] = f"stackctl/_data/{relative}"


def _skipped(relative: Path) -> bool:
    parts = relative.parts
    return "__pycache__" in parts or (parts[0] == "stacks" and "tests" in parts[2:3])
