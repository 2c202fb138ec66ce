"""Plan, then write: compare rendered files with the disk, then apply the plan.

Each file is create / identical / update / conflict. A conflict is a file that differs
from what stackctl last wrote there (a hand edit, or a file stackctl never wrote): it is
never overwritten silently. `--dry-run` and `plan` stop after planning.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from stackctl.atomic import write_atomic
from stackctl.errors import ConflictError

Action = Literal["create", "identical", "update", "conflict"]


@dataclass(frozen=True)
class RenderedFile:
    """A file as rendering makes it: path in the stack folder, text, mode, secret or not."""

    path: str  # relative to the stack folder
    content: str
    mode: int = 0o644
    secret: bool = False  # holds secret values: masked in diffs, written 0600


@dataclass(frozen=True)
class FileChange:
    """What writing a rendered file would do: create, identical, update or conflict."""

    file: RenderedFile
    action: Action
    current: str | None
    reason: str = ""


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def plan_files(
    root: Path,
    files: Iterable[RenderedFile],
    written: Mapping[str, str],
    pending: Mapping[str, str] | None = None,
) -> list[FileChange]:
    """`written`: digests stackctl recorded after writing; `pending`: digests it recorded
    before a write that may have been cut short. A file matching either is stackctl's."""
    pending = pending or {}
    changes = []
    for rendered in files:
        target = root / rendered.path
        if not target.exists():
            changes.append(FileChange(rendered, "create", None))
            continue
        current = target.read_text(encoding="utf-8", errors="replace")
        mode_ok = (target.stat().st_mode & 0o777) == rendered.mode
        if current == rendered.content:
            changes.append(
                FileChange(
                    rendered,
                    "identical" if mode_ok else "update",
                    current,
                    "" if mode_ok else "mode",
                )
            )
        elif digest(current) in (written.get(rendered.path), pending.get(rendered.path)):
            changes.append(FileChange(rendered, "update", current))
        elif rendered.path in written:
            changes.append(
                FileChange(rendered, "conflict", current, "changed by hand since stackctl wrote it")
            )
        else:
            changes.append(
                FileChange(rendered, "conflict", current, "exists and was not written by stackctl")
            )
    return changes


def refuse_conflicts(root: Path, changes: Iterable[FileChange], hint: str | None = None) -> None:
    conflicts = [c for c in changes if c.action == "conflict"]
    if conflicts:
        names = ", ".join(c.file.path for c in conflicts)
        raise ConflictError(
            f"{len(conflicts)} file(s) in {root} differ from what stackctl would write: {names}",
            hint
            or "see them with `stackctl plan STACK --diff`; move your change into stackctl.toml, or use --force (a backup is kept)",
        )


def apply_plan(
    root: Path, changes: Iterable[FileChange], written: dict[str, str], force: bool = False
) -> list[str]:
    """Write creates and updates; refuse conflicts unless forced (then keep a backup).

    Checks every conflict before writing anything, so a refused run changes nothing.
    Returns the backup paths made.
    """
    changes = list(changes)
    if not force:
        refuse_conflicts(root, changes)
    backups = []
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for change in changes:
        target = root / change.file.path
        if change.action == "identical":
            written[change.file.path] = digest(change.file.content)
            continue
        if change.action == "conflict":
            backup = target.with_name(f"{target.name}.stackctl-backup-{stamp}")
            os.replace(target, backup)
            backups.append(str(backup))
        write_atomic(target, change.file.content, change.file.mode)
        written[change.file.path] = digest(change.file.content)
    return backups
