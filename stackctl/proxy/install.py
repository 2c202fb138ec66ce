"""Install a stack's proxy files where the server reads them, through plan-then-write.

Files keep their hash in the stack state like every file stackctl writes, so a hand edit
under /etc is a conflict, never overwritten silently. IIS files stay in the stack folder
for copying to the Windows host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stackctl.files import FileChange, RenderedFile, plan_files


@dataclass(frozen=True)
class ProxyPlan:
    """The proxy config installed where the server reads it: its folder and file changes."""

    base: Path
    changes: list[FileChange]


def plan_install(
    files: Mapping[str, str],
    places: Mapping[str, Path],
    root: Path,
    stack_dir: Path,
    written: Mapping[str, str],
    only_present: bool = False,
    pending: Mapping[str, str] | None = None,
) -> list[ProxyPlan]:
    """Plan each file at its destination under `root`.

    With `only_present`, a file whose destination folder does not exist is left out: that
    proxy server is not installed on this machine.
    """
    grouped: dict[Path, list[RenderedFile]] = {}
    for name, text in files.items():
        place = places[name]
        base = root if place.is_absolute() else stack_dir
        relative = place.relative_to("/") if place.is_absolute() else place
        if only_present and not (base / relative).parent.is_dir():
            continue
        grouped.setdefault(base, []).append(RenderedFile(str(relative), text))
    return [
        ProxyPlan(base, plan_files(base, rendered, written, pending))
        for base, rendered in grouped.items()
    ]
