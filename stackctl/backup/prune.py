"""Archive names and `--keep N`: the newest N archives of the folder stay."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from stackctl.backup.archive import Keys
from stackctl.settings import Site

PREFIX = "stackctl-"


def default_output(site: Site, keys: Keys) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    suffix = ".tar.zst.age" if keys.encrypted else ".tar.zst"
    return Path(site.backup.folder) / f"{PREFIX}{socket.gethostname()}-{stamp}{suffix}"


def prune(folder: Path, keep: int, written: Path) -> list[Path]:
    """Remove all but the newest `keep` archives stackctl named in `folder` (0: keep all)."""
    if keep <= 0:
        return []
    archives = sorted(
        (
            p
            for p in folder.iterdir()
            if p.name.startswith(PREFIX) and ".tar.zst" in p.name and p.is_file()
        ),
        key=lambda p: (p.stat().st_mtime, p.name),
        reverse=True,
    )
    removed = [p for p in archives[keep:] if p != written]
    for path in removed:
        path.unlink()
    return removed
