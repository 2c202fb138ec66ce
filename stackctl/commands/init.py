"""`stackctl init`: write a commented starter stackctl.toml."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(
        path: Annotated[Path, typer.Argument(help="Where to write it")] = Path("stackctl.toml"),
        force: Annotated[
            bool, typer.Option("--force", help="Replace an existing file (a backup is kept)")
        ] = False,
    ) -> None:
        """Write a commented starter stackctl.toml with every site key and its default."""
        from stackctl import console
        from stackctl.atomic import write_atomic
        from stackctl.errors import StackctlError
        from stackctl.locking import file_lock_path, hold
        from stackctl.paths import templates_dir
        from stackctl.settings import Site

        text = (templates_dir() / "stackctl.toml").read_text(encoding="utf-8")
        if path.is_dir():
            raise StackctlError(
                f"{path} is a folder",
                f"give the path of the file to write, e.g. {path / 'stackctl.toml'}",
            )
        # two runs at once must not back up each other's file: check-and-write under a lock
        with hold(file_lock_path(path), str(path), Site().lock_timeout):
            if path.exists():
                if path.read_bytes() == text.encode("utf-8"):
                    console.ok(f"{path} is already the starter file; nothing changed")
                    return
                if not force:
                    raise StackctlError(
                        f"{path} exists", "edit it, or use --force to replace it (a backup is kept)"
                    )
                path.replace(path.with_name(path.name + ".bak"))
            write_atomic(path, text, 0o644)
        console.ok(f"wrote {path}; edit it, then `stackctl plan STACK`")
