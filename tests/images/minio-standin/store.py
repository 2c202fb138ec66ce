"""Disk store of the MinIO stand-in (not MinIO's on-disk format).

moto's S3 server holds buckets and objects in memory. This module writes them to the
stand-in's data folder after every request that changed them, before the response goes
out, and loads them back at start: a restart, or the data folder restored from a backup,
keeps every bucket (with its creation date) and every object (bytes, ETag, last modified,
content type, user metadata).

Layout under the data folder (the first `minio server DIR`):

  .minio-standin/state.json   buckets (region, creation date) and their objects
                              (file name, ETag, last modified, metadata); the truth
  BUCKET/FILE                 an object's bytes; FILE is its key percent-encoded
                              ("/" too), or sha256-HEX of the key when that is long

Kept: the current version of each object. Not kept: older versions, multipart uploads
still in progress, bucket settings (CORS, policies, versioning, lifecycle).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import sys
import threading
import urllib.parse

STATE_DIR = ".minio-standin"
STATE_FILE = "state.json"
LONGEST_NAME = 200  # file names stay well under the usual 255-byte limit


def object_file(key: str) -> str:
    quoted = urllib.parse.quote(key, safe="")
    if len(quoted) > LONGEST_NAME or quoted in (".", ".."):
        return "sha256-" + hashlib.sha256(key.encode()).hexdigest()
    return quoted


def write_atomically(path: str, data: bytes) -> None:
    """A reader (or a backup copying the folder) sees the old file or the new, never half."""
    temporary = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
    with open(temporary, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temporary, path)


def describe(key) -> dict:
    """What is kept of a moto FakeKey besides its bytes."""
    return {
        "file": object_file(key.name),
        "etag": key.etag.strip('"'),
        "modified": key.last_modified.isoformat(),
        "metadata": dict(key.metadata),
    }


class DiskStore:
    def __init__(self, root: str) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        self.root = root
        self.backends = s3_backends
        self.default = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        self.lock = threading.Lock()
        self.written: dict[str, dict[str, dict]] = {}  # what is on disk, per bucket and key

    @property
    def state_path(self) -> str:
        return os.path.join(self.root, STATE_DIR, STATE_FILE)

    def load(self) -> tuple[int, int]:
        """Put the buckets and objects on disk back into moto; (buckets, objects) loaded."""
        try:
            with open(self.state_path) as fh:
                state = json.load(fh)
        except FileNotFoundError:
            return 0, 0
        objects = 0
        for name, saved in state.get("buckets", {}).items():
            bucket = self.default.create_bucket(name, saved["region"])
            bucket.creation_date = datetime.datetime.fromisoformat(saved["created"])
            self.written[name] = {}
            for key_name, meta in saved.get("objects", {}).items():
                path = os.path.join(self.root, name, meta["file"])
                try:
                    with open(path, "rb") as fh:
                        value = fh.read()
                except FileNotFoundError:
                    sys.stderr.write(f"minio stand-in: {name}/{key_name}: its file is gone\n")
                    continue
                key = self.default.put_object(
                    name, key_name, value, etag=meta["etag"], disable_notification=True
                )
                key.set_metadata(dict(meta.get("metadata", {})), replace=True)
                key.last_modified = datetime.datetime.fromisoformat(meta["modified"])
                self.written[name][key_name] = describe(key)
                objects += 1
        return len(self.written), objects

    def buckets(self) -> dict:
        """Every bucket moto holds, whichever account or partition it was made in."""
        found = {}
        for name, (partition, account) in list(self.backends.bucket_accounts.items()):
            bucket = self.backends[account][partition].buckets.get(name)
            if bucket is not None:
                found[name] = bucket
        return found

    def sync(self) -> None:
        """Write what changed since the last sync; the state file last, as the truth."""
        with self.lock:
            buckets = self.buckets()
            changed = False
            state: dict[str, dict] = {}
            removed: list[str] = []
            for name, bucket in buckets.items():
                folder = os.path.join(self.root, name)
                if name not in self.written:
                    os.makedirs(folder, exist_ok=True)
                    changed = True
                before = self.written.get(name, {})
                now: dict[str, dict] = {}
                for key in list(bucket.keys.values()):
                    if not hasattr(key, "etag"):  # a delete marker
                        continue
                    meta = describe(key)
                    if before.get(key.name) != meta:
                        write_atomically(os.path.join(folder, meta["file"]), key.value)
                        changed = True
                    now[key.name] = meta
                state[name] = {
                    "region": bucket.region_name,
                    "created": bucket.creation_date.isoformat(),
                    "objects": now,
                }
                removed += [
                    os.path.join(folder, before[k]["file"]) for k in before.keys() - now.keys()
                ]
                self.written[name] = now
            dropped = self.written.keys() - buckets.keys()
            if not changed and not removed and not dropped:
                return
            os.makedirs(os.path.dirname(self.state_path), exist_ok=True)
            write_atomically(self.state_path, json.dumps({"buckets": state}, indent=1).encode())
            for path in removed:
                self._remove(path)
            for name in dropped:
                del self.written[name]
                shutil.rmtree(os.path.join(self.root, name), ignore_errors=True)

    @staticmethod
    def _remove(path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
