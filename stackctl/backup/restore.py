"""`stackctl restore`: check the whole archive first, then put everything back.

The archive is unpacked into a staging folder and every member checked against the
manifest before anything on the server changes; a wrong key, a cut or an altered archive
stops there. Putting back is journaled (`<stacks_root>/.stackctl-restore.json`), so a
restore that was killed is finished by running it again. Database dumps land in the stack's
`.stackctl/restore/` folder; the next deploy loads them into a fresh database before the
app starts (stackctl/backup/load.py). S3 objects wait in `.stackctl/restore/s3/` and go
back through the S3 API at the same moment (stackctl/backup/s3_backup.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackctl import secrets as secret_store
from stackctl.atomic import write_atomic
from stackctl.backup.archive import ArchiveError, Keys, extract
from stackctl.backup.take import Progress
from stackctl.engine import Engine
from stackctl.errors import StackctlError
from stackctl.settings import Site

JOURNAL = ".stackctl-restore.json"
PENDING_DUMPS = Path(".stackctl") / "restore"
ASIDE = ".before-restore-"


@dataclass
class RestoreReport:
    """What a restore put back, kept aside, loaded or skipped."""

    stacks: list[str] = field(default_factory=list)
    placed: list[str] = field(default_factory=list)
    kept_aside: list[str] = field(default_factory=list)
    dumps: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)  # "stack/service: N objects"
    skipped: list[str] = field(default_factory=list)
    site_config: Path | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "stacks": self.stacks,
            "placed": self.placed,
            "kept_aside": self.kept_aside,
            "dumps_to_load": self.dumps,
            "objects_to_put": self.objects,
            "skipped": self.skipped,
            "site_config": str(self.site_config) if self.site_config else None,
        }

    def lines(self) -> list[str]:
        shown = [f"put back {p}" for p in self.placed]
        shown += [f"kept what was there as {p}" for p in self.kept_aside]
        shown += [f"{d}: the dump is loaded by the next deploy" for d in self.dumps]
        shown += [f"{o}: put back through S3 by the next deploy" for o in self.objects]
        shown += [f"left out {s}" for s in self.skipped]
        return shown


def restore(
    archive: Path,
    keys: Keys,
    wanted: list[str],
    force: bool,
    engine: Engine | None,
    progress: Progress,
    current: Site | None,
    staging_root: Path | None = None,
) -> RestoreReport:
    if not archive.is_file():
        raise StackctlError(f"no archive at {archive}", "give the path `stackctl backup` printed")
    staging = Path(tempfile.mkdtemp(prefix="stackctl-restore-", dir=staging_root))
    try:
        with archive.open("rb") as source:
            manifest = extract(source, keys, staging, progress)
        names = list(manifest["stacks"])
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise ArchiveError(
                f"the archive holds no stack {', '.join(unknown)}",
                "it holds: " + (", ".join(names) or "no stack"),
            )
        chosen = wanted or names
        facts = manifest["site"]
        return _put_back(staging, manifest, facts, chosen, force, engine, current)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _identity(manifest: dict[str, Any]) -> str:
    text = json.dumps(manifest["checksums"], sort_keys=True).encode()
    return hashlib.sha256(text).hexdigest()


def _put_back(
    staging: Path,
    manifest: dict[str, Any],
    facts: dict[str, Any],
    chosen: list[str],
    force: bool,
    engine: Engine | None,
    current: Site | None,
) -> RestoreReport:
    report = RestoreReport(stacks=chosen)
    stacks_root, data_root = Path(facts["stacks_root"]), Path(facts["data_root"])
    prefix = facts.get("name_prefix", "")
    journal_path = stacks_root / JOURNAL
    journal = _read_journal(journal_path, _identity(manifest))
    placed: set[str] = set(journal["placed"])

    def stack_dir(name: str) -> Path:
        return stacks_root / f"docker-{name}"

    # every refusal before the first change
    for name in chosen:
        target = stack_dir(name)
        if str(target) in placed or not target.is_dir():
            continue
        differ = _differing_secrets(target, staging / "stacks" / name)
        if differ and not force:
            raise StackctlError(
                f"stack {name} on this server has other secrets than the archive: {', '.join(differ)}",
                "restoring would lose the data they encrypt; to replace them anyway, run again "
                "with --force (the current folder and data are kept aside)",
            )
        if engine is not None and any(
            c.state == "running" for c in engine.project_containers(f"{prefix}{name}")
        ):
            raise StackctlError(
                f"stack {name} is running on this server",
                f"stop it first (`stackctl down {name}`), then restore",
            )

    stamp = time.strftime("%Y%m%dT%H%M%S")

    def place(source: Path, target: Path) -> None:
        """Move `source` to `target`; what was there is kept aside (or was ours)."""
        if target.exists() or target.is_symlink():
            if str(target) in placed:
                _remove(target)  # put there by this restore before it was stopped
            else:
                # hidden, so neither stack discovery nor a proxy's `include dir/*` reads it
                aside = target.with_name(f".{target.name}{ASIDE}{stamp}")
                os.rename(target, aside)
                report.kept_aside.append(str(aside))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(source), str(target))
        placed.add(str(target))
        journal["placed"] = sorted(placed)
        _write_journal(journal_path, journal)
        report.placed.append(str(target))

    stacks_root.mkdir(parents=True, exist_ok=True)
    _write_journal(journal_path, journal)
    config = facts.get("config")
    staged_config = staging / "site" / "stackctl.toml"
    if config and staged_config.is_file():
        target = Path(config)
        if not target.is_file() or str(target) in placed:
            place(staged_config, target)
        elif target.read_bytes() != staged_config.read_bytes():
            report.skipped.append(
                f"{target} (this server's own differs; the archive's is not used)"
            )
        report.site_config = target
    for name in chosen:
        entry = manifest["stacks"][name]
        staged = staging / "stacks" / name
        for folder in entry["data_dirs"]:
            place(staging / "data" / name / folder, data_root / name / folder)
        for service, dump in entry["dumps"].items():
            pending = staged / PENDING_DUMPS / f"{service}.sql"
            pending.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.rename(staging / dump["member"], pending)
            report.dumps.append(f"{name}/{service}")
        if entry.get("objects"):
            # the whole s3/<stack> folder: every object and each service's index
            from stackctl.backup.s3_backup import PENDING

            pending = staged / PENDING
            pending.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.rmtree(pending, ignore_errors=True)  # an older restore's, never loaded
            os.rename(staging / "s3" / name, pending)
            for service, objects in entry["objects"].items():
                report.objects.append(f"{name}/{service}: {objects['objects']} objects")
        for path in entry.get("proxy", []):
            staged_file = staging / "proxy" / name / Path(path).relative_to("/")
            if Path(path).parent.is_dir():
                place(staged_file, Path(path))
            else:
                report.skipped.append(
                    f"{path} (no {Path(path).parent} here: its server is not installed)"
                )
        place(staged, stack_dir(name))  # last: a stack folder in place means its stack is back
    journal_path.unlink(missing_ok=True)
    return report


def _differing_secrets(current: Path, staged: Path) -> list[str]:
    """The secrets (.env values and secret files) the server's copy holds otherwise."""
    have, archived = secret_store.load(current), secret_store.load(staged)
    differ = sorted(k for k in have.keys() & archived.keys() if have[k] != archived[k])
    for file in sorted(staged.rglob("*")):
        relative = file.relative_to(staged)
        mine = current / relative
        if (
            file.is_file()
            and relative.parts[0] != ".stackctl"
            and file.stat().st_mode & 0o077 == 0  # secret files are private
            and relative.name != ".env"  # compared value by value above
            and mine.is_file()
            and mine.read_bytes() != file.read_bytes()
        ):
            differ.append(str(relative))
    return differ


def _read_journal(path: Path, identity: str) -> dict[str, Any]:
    if path.is_file():
        try:
            data = json.loads(path.read_text())
        except ValueError:
            data = {}
        if data.get("archive") == identity:
            return {"archive": identity, "placed": list(data.get("placed", []))}
        raise StackctlError(
            f"another restore was stopped halfway ({path})",
            "run that restore again to finish it, or remove the file once you checked the folders it lists",
        )
    return {"archive": identity, "placed": []}


def _write_journal(path: Path, journal: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(journal, indent=2) + "\n", 0o600)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
