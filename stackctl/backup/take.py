"""`stackctl backup`: one archive of the chosen stacks, written to a temporary name and
renamed only once it is whole and verified.

Per stack: its folder (.env, secret files, .stackctl state and journal, rendered files),
the proxy config installed for it, its data folders as its recipe declares them,
database dumps streamed out of the running containers, and S3 buckets' objects read
through the S3 API (stackctl/backup/s3_backup.py); plus the site config and a
manifest. A dump goes through a 0600 spool file beside the archive: a tar member's size
comes before its bytes, and a dump's size is known only at its end.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from stackctl import __version__
from stackctl.backup import dumps
from stackctl.backup.archive import ArchiveWriter, Keys, verify
from stackctl.engine import Engine
from stackctl.errors import EngineError, StackctlError
from stackctl.settings import Site
from stackctl.stack import Stack

# in a stack's .stackctl folder: the lock belongs to the running command, not the stack
LEFT_OUT = {"lock", "lock.holder"}
PARTIAL = ".partial-"


@dataclass
class BackupReport:
    """What a backup wrote: the archive, its members and sizes, and how long it took."""

    archive: Path
    stacks: list[str] = field(default_factory=list)
    dumps: list[str] = field(default_factory=list)  # stack/service
    objects: dict[str, int] = field(default_factory=dict)  # stack/service -> S3 objects
    members: int = 0
    plain_bytes: int = 0
    archive_bytes: int = 0
    seconds: float = 0.0


class Progress:
    """Counts the bytes written to the archive (a bar on a terminal)."""

    def __init__(self, on_bytes: Callable[[int], None] | None = None) -> None:
        self.total = 0
        self._on_bytes = on_bytes

    def __call__(self, count: int) -> None:
        self.total += count
        if self._on_bytes:
            self._on_bytes(count)


class _CountingFile:
    """The archive file: counts the bytes that reach the disk."""

    def __init__(self, out: BinaryIO) -> None:
        self._out, self.size = out, 0

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self._out.flush()


class _HashingFile:
    """A dump's spool file: the dump is hashed as it arrives, so its bytes are hashed once."""

    def __init__(self, out: BinaryIO) -> None:
        self._out, self.digest = out, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self._out.write(data)

    def flush(self) -> None:
        self._out.flush()


def partial_name(output: Path) -> Path:
    return output.with_name(f".{output.name}{PARTIAL}{os.getpid()}")


def take_backup(
    site: Site,
    stacks: list[Callable[[], Any]],
    engine: Engine,
    keys: Keys,
    output: Path,
    progress: Progress,
    on_dump: Callable[[str], Any] | None = None,
) -> BackupReport:
    """`stacks`: for each stack, a context manager factory that yields it opened under its
    lock. Writes `output` only when the archive is complete and reads back whole."""
    started = time.monotonic()
    output.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    sweep_partials(output.parent)
    report = BackupReport(output)
    partial = partial_name(output)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw:
            counted = _CountingFile(raw)
            writer = ArchiveWriter(counted, keys, on_bytes=progress)
            manifest: dict[str, Any] = {
                "stackctl": __version__,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "host": socket.gethostname(),
                "site": _site_facts(site),
                "stacks": {},
            }
            try:
                if site.path is not None and site.path.is_file():
                    writer.add_tree("site/stackctl.toml", site.path)
                for opened in stacks:
                    with opened() as stack:
                        entry = _add_stack(writer, stack, engine, output.parent, report, on_dump)
                        manifest["stacks"][stack.name] = entry
                        report.stacks.append(stack.name)
                writer.finish(manifest)
            except BaseException:
                writer.abort()  # its threads stop before the file closes under them
                raise
            raw.flush()
            os.fsync(raw.fileno())
        report.members = len(writer.checksums)
        report.plain_bytes = progress.total
        report.archive_bytes = counted.size
        verify(partial, keys, writer.file_key)
        os.replace(partial, output)
        _fsync_dir(output.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    report.seconds = time.monotonic() - started
    return report


def sweep_partials(folder: Path) -> list[Path]:
    """Remove what a killed backup left (its archive or dump under a temporary name)."""
    removed = []
    for path in folder.glob(f".*{PARTIAL}*"):
        pid = path.name.rsplit(PARTIAL, 1)[1]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _site_facts(site: Site) -> dict[str, Any]:
    return {
        "config": str(site.path) if site.path else None,
        "stacks_root": site.stacks_root,
        "data_root": site.data_root,
        "proxy_root": site.proxy_root,
        "name_prefix": site.name_prefix,
    }


def _add_stack(
    writer: ArchiveWriter,
    stack: Stack,
    engine: Engine,
    spool_dir: Path,
    report: BackupReport,
    on_dump: Callable[[str], Any] | None,
) -> dict[str, Any]:
    name = stack.name
    if not stack.dir.is_dir():
        raise StackctlError(
            f"stack {name} has no folder at {stack.dir}",
            f"deploy it first: `stackctl deploy {name}`",
        )
    writer.add_tree(f"stacks/{name}", stack.dir, skip=_left_out)
    proxy = _add_proxy_files(writer, stack)
    active = stack.images()  # service -> image reference, for the services that exist now
    containers = {c.service: c for c in engine.project_containers(stack.names.project)}
    entry: dict[str, Any] = {
        "recipe_version": stack.recipe.app_version,
        "folder": str(stack.dir),
        "data": str(stack.data_dir),
        "network": stack.state.network,
        "images": {
            svc: {"reference": ref, "id": getattr(containers.get(svc), "image_id", None)}
            for svc, ref in active.items()
        },
        "proxy": proxy,
        "dumps": {},
        "objects": {},
        "data_dirs": [],
        "excluded": [],
    }
    spooled: list[tuple[str, str, str, SpooledDump]] = []  # service, method, member, dump
    try:
        # the dumps first, each on a thread of its own: the databases work on them while
        # the objects and data folders are archived
        for service in stack.recipe.services:
            spec = service.backup
            if spec is None or not spec.is_dump or service.name not in active:
                continue  # an off service (its `when` does not hold) has nothing live to dump
            container = _running_or_fail(
                containers, name, service.name, "its database cannot be dumped"
            )
            if on_dump:
                on_dump(f"{name}/{service.name}")
            spool = spool_dir / f".dump-{len(spooled)}{PARTIAL}{os.getpid()}"
            member = f"dumps/{name}/{service.name}{dumps.SUFFIX}"
            dump = SpooledDump(engine, container.name, spec, spool)
            spooled.append((service.name, spec.method, member, dump))
        for service in stack.recipe.services:
            spec = service.backup
            if spec is None:
                continue
            entry["excluded"] += list(spec.exclude)
            if spec.is_dump:
                continue
            if spec.method == "s3-objects":
                if service.name not in active:
                    continue
                _running_or_fail(containers, name, service.name, "its objects cannot be read")
                if on_dump:
                    on_dump(f"{name}/{service.name} objects")
                from stackctl.backup import s3_backup

                endpoint = s3_backup.endpoint_of(stack, engine, spec)
                found = s3_backup.add_objects(writer, stack, service.name, spec, endpoint)
                entry["objects"][service.name] = found
                report.objects[f"{name}/{service.name}"] = found["objects"]
                continue
            folders = [d for d in spec.data if (stack.data_dir / d).exists()]
            if spec.method == "exclude" or not folders:
                continue
            stop = spec.method == "files-stopped"
            with _stopped(engine, stack, service.name, stop, containers):
                for folder in folders:
                    writer.add_tree(f"data/{name}/{folder}", stack.data_dir / folder)
                    entry["data_dirs"].append(folder)
        for service_name, method, member, dump in spooled:
            dump.add_to(writer, member)
            entry["dumps"][service_name] = {"method": method, "member": member}
            report.dumps.append(f"{name}/{service_name}")
    except BaseException:
        for *_, dump in spooled:
            dump.discard()
        raise
    return entry


def _running_or_fail(containers: dict[str, Any], stack: str, service: str, why: str) -> Any:
    container = containers.get(service)
    if container is None or container.state != "running":
        raise EngineError(
            f"{stack}'s {service} is not running, so {why}",
            f"start the stack (`stackctl deploy {stack}`) and run the backup again",
        )
    return container


def _left_out(relative: str) -> bool:
    parts = relative.split("/")
    return len(parts) == 2 and parts[0] == ".stackctl" and parts[1] in LEFT_OUT


def _add_proxy_files(writer: ArchiveWriter, stack: Stack) -> list[str]:
    """The proxy config deploy installed for this stack, at its absolute place."""
    from stackctl.plan import _proxy_install
    from stackctl.render import stack_vhosts

    vhosts = stack_vhosts(stack.recipe, stack.site, stack.settings, stack.state.facts)
    kept = []
    for place in _proxy_install(stack, vhosts):
        for change in place.changes:
            path = place.base / change.file.path
            if path.is_file():
                writer.add_tree(f"proxy/{stack.name}{path}", path)
                kept.append(str(path))
    return kept


class SpooledDump:
    """A database dump streaming out of its container into a 0600 spool file beside the
    archive, on a thread of its own, hashed as it arrives (a tar member's size comes before
    its bytes, and a dump's size is known only at its end)."""

    def __init__(self, engine: Engine, container: str, spec: Any, spool: Path) -> None:
        self.container, self.spool = container, spool
        self.size, self.digest = 0, ""
        self._error: BaseException | None = None
        self._discarded = False
        self._thread = threading.Thread(
            target=self._run, args=(engine, spec), name=f"dump-{container}", daemon=True
        )
        self._thread.start()

    def _run(self, engine: Engine, spec: Any) -> None:
        try:
            fd = os.open(self.spool, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as file:
                hashing = _HashingFile(file)
                argv = dumps.dump_argv(spec)
                code = engine.exec_stream(self.container, argv, None, hashing)  # type: ignore[arg-type]
                self.size = file.tell()
            if code != 0:
                raise EngineError(
                    f"the dump of {self.container} failed (exit {code})",
                    f"see `docker logs {self.container}`; is the database healthy?",
                )
            self.digest = hashing.digest.hexdigest()
        except BaseException as exc:
            self._error = exc
        if self._error is not None or self._discarded:
            self.spool.unlink(missing_ok=True)

    def add_to(self, writer: ArchiveWriter, member: str) -> None:
        """Wait for the dump to end; then its bytes into the archive and the spool away."""
        self._thread.join()
        try:
            if self._error is not None:
                raise self._error
            with self.spool.open("rb") as file:
                writer.add_stream(member, file, self.size, digest=self.digest)
        finally:
            self.spool.unlink(missing_ok=True)

    def discard(self) -> None:
        """The backup failed: the spool goes now, or when the dump ends."""
        self._discarded = True
        self.spool.unlink(missing_ok=True)


@contextmanager
def _stopped(
    engine: Engine, stack: Stack, service: str, stop: bool, containers: dict[str, Any]
) -> Iterator[None]:
    """The service stopped while its folders are read (SQLite and the like), started after."""
    found = containers.get(service)
    if not stop or found is None or found.state != "running":
        yield
        return
    engine.stop_container(found.name)
    try:
        yield
    finally:
        engine.compose_up(stack.dir, stack.names.project, services=[service])


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
