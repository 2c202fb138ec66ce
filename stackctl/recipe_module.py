"""A recipe's own code: stacks/<app>/kinds.py, imported when the recipe loads.

Only what data cannot say lives there: the app's step kinds, action kinds, secret formats
and value kinds, registered through the core's open registries (`@step_kind`, ...). The
module is imported from its file under a name made from its resolved path, so a recipe
folder works anywhere (a shipped one, or one under a site's `recipe_paths`) and two folders
never share a module.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

from stackctl.errors import RecipeError, StackctlError

MODULE_FILE = "kinds.py"
_deferred: list[Path] = []


def defer(folder: Path) -> None:
    """Import the folder's kinds.py only when a registry lacks a name (stackctl.registry):
    a recipe read from the cache was checked with them, and most commands use few kinds."""
    _deferred.append(folder)


def forget_deferred() -> None:
    _deferred.clear()


def load_deferred() -> bool:
    """Import every deferred module; whether there was any (a lookup worth repeating)."""
    pending = list(_deferred)
    _deferred.clear()
    for folder in pending:
        load(folder)
    return bool(pending)


def module_name(folder: Path) -> str:
    resolved = folder.resolve()
    slug = re.sub(r"\W", "_", resolved.name)
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:10]
    return f"stackctl_recipe_{slug}_{digest}"


def load(folder: Path) -> ModuleType | None:
    """Import the folder's kinds.py once (None when the recipe has no code)."""
    path = folder / MODULE_FILE
    if not path.is_file():
        return None
    name = module_name(folder)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RecipeError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except StackctlError as exc:
        del sys.modules[name]
        raise RecipeError(f"{path}: {exc.message}", exc.hint) from exc
    except Exception as exc:
        del sys.modules[name]
        raise RecipeError(
            f"{path} failed to import: {type(exc).__name__}: {exc}",
            "run with -v for the traceback",
        ) from exc
    return module
