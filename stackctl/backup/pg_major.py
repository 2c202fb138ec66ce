"""Which Postgres major a data folder holds, which one an image runs, and the refusal when
a deploy would start one on the other.

A Postgres server only opens a data folder written by its own major version: a new major
on an old folder does not start, and the app behind it is down. The data folder's
`PG_VERSION` file is the truth about the folder; the image's major comes from its
`PG_MAJOR` variable (official and test images set it) when the image is here, else from the
leading number of its tag. Moving to another major is `stackctl run STACK pg-upgrade`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from stackctl.engine import split_reference
from stackctl.errors import StackctlError

if TYPE_CHECKING:
    from stackctl.engine import Engine
    from stackctl.plan import StackPlan
    from stackctl.stack import Stack

ACTION = "pg-upgrade"  # the action every recipe with a postgres-dump service has
_TAG_MAJOR = re.compile(r"^(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class MajorChange:
    """A Postgres data folder whose major version differs from its new image's."""

    service: str
    folder: Path  # the data folder on the host
    data_major: str  # what its PG_VERSION says
    image_major: str
    image: str  # the reference the deploy would run

    @property
    def upgrade(self) -> bool:
        return _as_number(self.image_major) > _as_number(self.data_major)

    def as_json(self) -> dict[str, str]:
        return {
            "service": self.service,
            "folder": str(self.folder),
            "data_major": self.data_major,
            "image_major": self.image_major,
            "image": self.image,
        }

    def describe(self) -> str:
        return (
            f"{self.service}: the data folder {self.folder} holds Postgres {self.data_major}, "
            f"the image {self.image} runs Postgres {self.image_major}"
        )


def data_major(folder: Path) -> str | None:
    """The major a data folder was written by; None for a missing or empty folder. The
    folder is PGDATA itself, or (the layout of the official images from 18 on) holds
    `<major>/docker/`."""
    for candidate in (folder / "PG_VERSION", *sorted(folder.glob("*/docker/PG_VERSION"))):
        try:
            text = candidate.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if text:
            return text
    return None


def tag_major(reference: str) -> str | None:
    """`15-alpine` -> 15, `17.2` -> 17, `9.6.24` -> 9.6 (majors before 10 had two numbers)."""
    _, tag = split_reference(reference)
    match = _TAG_MAJOR.match(tag) if tag and not tag.startswith("sha256:") else None
    if match is None:
        return None
    first, second = match.groups()
    if int(first) < 10 and second is not None:
        return f"{first}.{second}"
    return first


def image_major(reference: str, engine: Engine | None) -> str | None:
    if engine is not None:
        env = engine.image_env(reference)
        if env and env.get("PG_MAJOR"):
            return env["PG_MAJOR"].strip()
    return tag_major(reference)


def postgres_folders(stack: Stack, images: dict[str, str]) -> list[tuple[str, Path]]:
    """(service, data folder) of every planned service backed up with postgres-dump."""
    found = []
    for service in stack.recipe.services:
        spec = service.backup
        if service.name in images and spec is not None and spec.method == "postgres-dump":
            found += [(service.name, stack.data_dir / folder) for folder in spec.data]
    return found


def major_changes(stack: Stack, images: dict[str, str], engine: Engine | None) -> list[MajorChange]:
    """The Postgres data folders the planned images would open with another major. A fresh
    folder, or an image whose major cannot be told, is no change."""
    changes = []
    for service, folder in postgres_folders(stack, images):
        have = data_major(folder)
        if have is None:
            continue
        wanted = image_major(images[service], engine)
        if wanted is not None and wanted != have:
            changes.append(MajorChange(service, folder, have, wanted, images[service]))
    return changes


def refusal(stack_name: str, changes: list[MajorChange]) -> StackctlError:
    what = "; ".join(c.describe() for c in changes)
    if all(c.upgrade for c in changes):
        hint = (
            f"`stackctl run {stack_name} {ACTION}` dumps the database, loads it into the new "
            "major on a fresh folder, compares the rows and only then switches "
            "(see docs/backup.md)"
        )
    else:
        hint = "Postgres cannot open a folder of a newer major: set the image back to that major"
    return StackctlError(f"{stack_name}: a Postgres major version change: {what}", hint)


def refusal_warning(stack_name: str, changes: list[MajorChange]) -> str:
    """What plan and `deploy --dry-run` say about the refusal a deploy would meet."""
    refused = refusal(stack_name, changes)
    return f"deploy refuses {refused.message} ({refused.hint})"


def refuse_major_changes(plan: StackPlan) -> None:
    if plan.major_changes:
        raise refusal(plan.stack.name, list(plan.major_changes))
    from stackctl.backup.pg_upgrade import work_dir

    work = work_dir(plan.stack)
    halfway = sorted(work.glob("*.switch.json")) if work.is_dir() else []
    if halfway:  # a data folder may be missing: a deploy would start on an empty one
        raise StackctlError(
            f"{plan.stack.name}: a pg-upgrade was stopped while it switched data folders "
            f"({', '.join(p.name for p in halfway)} in {work})",
            f"`stackctl run {plan.stack.name} {ACTION}` finishes the switch, then deploys",
        )


def _as_number(major: str) -> float:
    try:
        return float(major)
    except ValueError:
        return 0.0
