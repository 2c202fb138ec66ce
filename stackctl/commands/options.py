"""Global options set by the root callback, and the loaders every command shares."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stackctl.settings import Site

config_path: Path | None = None
verbose: int = 0


def site() -> Site:
    from stackctl.settings import load_site

    if verbose:  # rich is only loaded when something is printed
        from stackctl import console

        console.verbosity = verbose
    return load_site(config_path)
