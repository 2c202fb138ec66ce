"""The `s3-objects` backup method: a bucket's objects through the S3 API, never its server's
folder (MinIO's own files are not a format to copy while it runs, nor to put back).

Backup lists every object of the service's buckets and streams each one (GET) into the
archive as `s3/<stack>/<bucket>/<key>`, with an index (`s3/<stack>/.index-<service>.json`:
each object's key, size, ETag, SHA-256 and content type). Restore leaves that folder in the
stack's `.stackctl/restore/s3/`; deploy starts the S3 service alone, runs its bucket step,
and PUTs every object back (streamed, its SHA-256 signed as the payload's hash, its size
checked after) before the app starts. Each object put back is journaled, so a deploy
that was stopped goes on where it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from http.client import HTTPException
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO

from stackctl import s3_objects
from stackctl.backup.spec import BackupSpec
from stackctl.errors import EngineError, StackctlError
from stackctl.s3 import S3Endpoint, S3Error

if TYPE_CHECKING:
    from stackctl.backup.archive import ArchiveWriter
    from stackctl.engine import Engine
    from stackctl.recipe import Step
    from stackctl.stack import Stack
    from stackctl.steps import StepContext

PENDING = Path(".stackctl") / "restore" / "s3"
DONE_SUFFIX = ".done"


def index_name(service: str) -> str:
    return f".index-{service}.json"  # a bucket's name never starts with a dot


def bucket_step(stack: Stack, spec: BackupSpec) -> Step:
    return next(s for s in stack.recipe.bootstrap if s.id == spec.step)


def buckets_of(stack: Stack, spec: BackupSpec) -> list[str]:
    return list(spec.buckets) or [str(b) for b in bucket_step(stack, spec).options["buckets"]]


def endpoint_of(stack: Stack, engine: Engine, spec: BackupSpec) -> S3Endpoint:
    from stackctl.steps.s3 import endpoint

    step = bucket_step(stack, spec)
    return endpoint(step, stack, engine, stack.names.network, stack.secrets())


# -- backup ----------------------------------------------------------------------------------


class _Places:
    """Each key's place in the archive. A key that is not a plain relative path, or that
    clashes with another as file and folder ("a" and "a/b"), goes under a name made from
    its hash; the index maps names back to keys either way."""

    def __init__(self) -> None:
        self._files: set[str] = set()
        self._folders: set[str] = set()

    def place(self, bucket: str, key: str) -> str:
        path = f"{bucket}/{key}"
        parts = key.split("/")
        parents = {"/".join([bucket, *parts[:n]]) for n in range(1, len(parts))}
        plain = (
            all(p not in ("", ".", "..") and len(p.encode()) <= 255 for p in parts)
            and "\0" not in key
            and not parts[0].startswith(".")
            and path not in self._folders
            and not parents & self._files
        )
        if not plain:
            path = f"{bucket}/.key-{hashlib.sha256(key.encode()).hexdigest()}"
        self._files.add(path)
        self._folders |= parents if plain else set()
        return path


class _Exactly:
    """A response body that must give its announced size: a cut answer fails the backup
    instead of reaching the archive padded."""

    def __init__(self, body: BinaryIO, size: int, where: str) -> None:
        self._body, self._left, self._where = body, size, where

    def read(self, count: int) -> bytes:
        data = self._body.read(min(count, self._left))
        if not data and self._left:
            raise S3Error(f"{self._where} ended {self._left} bytes short")
        self._left -= len(data)
        return data


def add_objects(
    writer: ArchiveWriter, stack: Stack, service: str, spec: BackupSpec, endpoint: S3Endpoint
) -> dict[str, Any]:
    """Every object of the service's buckets into the archive; its manifest entry."""
    places = _Places()
    index: list[dict[str, Any]] = []
    root = f"s3/{stack.name}"
    buckets = buckets_of(stack, spec)
    try:
        for bucket in buckets:
            for listed in s3_objects.list_objects(endpoint, bucket):
                with s3_objects.get_object(endpoint, bucket, listed.key) as found:
                    if found is None:
                        continue  # deleted since it was listed
                    member = f"{root}/{places.place(bucket, listed.key)}"
                    where = f"GET /{bucket}/{listed.key}"
                    writer.add_stream(member, _Exactly(found.body, found.size, where), found.size)  # type: ignore[arg-type]
                index.append(
                    {
                        "bucket": bucket,
                        "key": listed.key,
                        "member": member,
                        "size": found.size,
                        "etag": found.etag,
                        "sha256": writer.checksums[member],
                        "content_type": found.content_type,
                    }
                )
    except (S3Error, OSError, HTTPException) as exc:
        raise EngineError(
            f"reading {stack.name}'s {service} through S3: {exc}",
            f"is it running and healthy? see `stackctl logs {stack.name} {service}`",
        ) from exc
    text = json.dumps({"service": service, "buckets": buckets, "objects": index}, indent=1)
    member = f"{root}/{index_name(service)}"
    writer.add_bytes(member, text.encode())
    return {
        "method": spec.method,
        "index": member,
        "buckets": buckets,
        "objects": len(index),
        "bytes": sum(o["size"] for o in index),
    }


# -- restore ---------------------------------------------------------------------------------


def pending_objects(stack: Stack) -> dict[str, Path]:
    """service -> the index of the objects a restore left for it to put back."""
    folder = stack.dir / PENDING
    found = {}
    for service in stack.recipe.services:
        index = folder / index_name(service.name)
        if index.is_file() and service.backup is not None and service.backup.method == "s3-objects":
            found[service.name] = index
    return found


def put_back_pending_objects(
    stack: Stack,
    engine: Engine,
    context: StepContext,
    wait_seconds: int,
    on_service: Callable[[str, int], Any] = lambda service, count: None,
) -> dict[str, int]:
    """Per service with objects to put back: start it alone, make its buckets, PUT what the
    journal does not list yet. service -> objects put back by this run."""
    from stackctl.steps import step_runner

    put: dict[str, int] = {}
    folder = stack.dir / PENDING
    for service, index_path in pending_objects(stack).items():
        spec = stack.recipe.service(service).backup
        assert spec is not None
        objects = json.loads(index_path.read_text())["objects"]
        journal = index_path.with_name(index_path.name + DONE_SUFFIX)
        done = _read_journal(journal)
        on_service(service, len(objects) - len(done))
        engine.compose_up(
            stack.dir, stack.names.project, services=[service], wait_seconds=wait_seconds
        )
        step = bucket_step(stack, spec)
        step_runner(step.kind)(step, context)  # waits until the server answers
        endpoint = endpoint_of(stack, engine, spec)
        count = 0
        with journal.open("a") as log:
            for entry in objects:
                if entry["member"] in done:
                    continue
                _put_one(endpoint, folder, stack.name, entry)
                log.write(json.dumps(entry["member"]) + "\n")
                log.flush()
                count += 1
        put[service] = count
        for bucket in json.loads(index_path.read_text())["buckets"]:
            shutil.rmtree(folder / bucket, ignore_errors=True)
        index_path.unlink()
        journal.unlink()
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    return put


def _read_journal(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    done = set()
    for line in path.read_text().splitlines():
        try:
            done.add(json.loads(line))
        except ValueError:
            pass  # a line cut by a kill: that object is put again
    return done


class _Hashing:
    def __init__(self, source: BinaryIO) -> None:
        self._source, self.digest = source, hashlib.sha256()

    def read(self, count: int = -1) -> bytes:
        data = self._source.read(count)
        self.digest.update(data)
        return data


def _put_one(endpoint: S3Endpoint, folder: Path, stack: str, entry: dict[str, Any]) -> None:
    bucket, key, size = entry["bucket"], entry["key"], int(entry["size"])
    relative = PurePosixPath(entry["member"]).relative_to(f"s3/{stack}")
    path = folder / relative
    where = f"/{bucket}/{key}"
    hint = "the archive's copy is checked; restore it again (`stackctl restore FILE`)"
    if not path.is_file() or os.path.getsize(path) != size:
        raise StackctlError(f"the restored object {where} is missing or not {size} bytes", hint)
    try:
        with path.open("rb") as source:
            hashing = _Hashing(source)  # type: ignore[arg-type]
            s3_objects.put_object(
                endpoint, bucket, key, hashing, size, entry["sha256"], entry["content_type"]
            )
        if hashing.digest.hexdigest() != entry["sha256"]:
            raise StackctlError(f"the restored object {where} changed on disk", hint)
        stored = s3_objects.head_object(endpoint, bucket, key)
    except (S3Error, OSError, HTTPException) as exc:
        raise EngineError(
            f"putting back {where}: {exc}",
            "see the S3 service's logs; the next deploy goes on where this one stopped",
        ) from exc
    if stored is None or stored[0] != size:
        raise EngineError(
            f"the S3 server keeps {where} with {stored and stored[0]} bytes, not {size}",
            "see the S3 service's logs",
        )
