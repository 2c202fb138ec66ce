"""A byte counter with a bar on a terminal, for the archive and the dumps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from stackctl.backup.take import Progress


class BarProgress(Progress):
    def __init__(self, bar: Any, task: Any) -> None:
        super().__init__(lambda n: bar.update(task, advance=n) if bar else None)
        self._bar, self._task = bar, task

    def describe(self, text: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=text)


@contextmanager
def bytes_bar(title: str, quiet: bool = False) -> Iterator[BarProgress]:
    from stackctl import console

    if quiet or not console.out.is_terminal:
        yield BarProgress(None, None)
        return
    from rich.progress import (
        DownloadColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TransferSpeedColumn,
    )

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console.out,
        transient=True,
    ) as bar:
        yield BarProgress(bar, bar.add_task(title, total=None))
