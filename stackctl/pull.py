"""Pull images that are not present locally, with one progress bar per image."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from stackctl import console
from stackctl.engine import Engine


def pull_missing(engine: Engine, images: Mapping[str, str], always: bool = False) -> list[str]:
    wanted = [
        ref for ref in dict.fromkeys(images.values()) if always or engine.image_id(ref) is None
    ]
    if not wanted:
        return []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        console=console.out,
        transient=False,
    ) as progress:
        for reference in wanted:
            task = progress.add_task(f"pull {reference}", total=None)
            layers: dict[str, tuple[int, int]] = {}

            def update(
                event: dict[str, Any], task: Any = task, layers: dict[str, tuple[int, int]] = layers
            ) -> None:
                detail = event.get("progressDetail") or {}
                if event.get("id") and detail.get("total"):
                    layers[event["id"]] = (detail.get("current", 0), detail["total"])
                    done = sum(c for c, _ in layers.values())
                    total = sum(t for _, t in layers.values())
                    progress.update(task, completed=done, total=total)

            engine.pull(reference, update)
            progress.update(task, description=f"pulled {reference}")
    return wanted
