"""What importing stackctl builds: nothing the running command does not use."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "stackctl"


def _is_dataclass(node: ast.ClassDef) -> bool:
    def name(decorator: ast.expr) -> str:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        return getattr(target, "id", "") or getattr(target, "attr", "")

    return any(name(d) == "dataclass" for d in node.decorator_list)


def test_every_dataclass_says_what_it_holds():
    # without a docstring, dataclasses works one out from the class's signature at import:
    # a tenth of a millisecond per class, on every command's start
    bare = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and _is_dataclass(node) and not ast.get_docstring(node)
    ]
    assert not bare
