"""A database dump spools on a thread of its own while the data folders are archived; it is
hashed once as it arrives, and its spool never outlives the backup."""

from __future__ import annotations

import hashlib
import io
import threading
from pathlib import Path

import pytest

from stackctl.backup.archive import ArchiveWriter, Keys, extract
from stackctl.backup.spec import BackupSpec
from stackctl.backup.take import SpooledDump
from stackctl.errors import EngineError

DUMP = b"INSERT INTO t VALUES (1);\n" * 1000
SPEC = BackupSpec(method="postgres-dump")


class SlowDatabase:
    """Streams its dump only once `go` is set (or fails after a while)."""

    def __init__(self, code: int = 0) -> None:
        self.go = threading.Event()
        self.code = code

    def exec_stream(self, container, argv, stdin, stdout, user=None) -> int:
        if not self.go.wait(5):
            return 99  # the caller waited for the dump before going on: not overlapped
        stdout.write(DUMP)
        return self.code


def test_the_dump_runs_while_the_caller_goes_on_and_lands_with_its_digest(tmp_path: Path):
    database = SlowDatabase()
    dump = SpooledDump(database, "db", SPEC, tmp_path / ".dump-0.partial-1")  # type: ignore[arg-type]
    database.go.set()  # the caller archives the data folders meanwhile
    out = io.BytesIO()
    writer = ArchiveWriter(out, Keys())
    dump.add_to(writer, "dumps/db.sql")
    writer.finish({})
    assert writer.checksums["dumps/db.sql"] == hashlib.sha256(DUMP).hexdigest()
    out.seek(0)
    extract(out, Keys(), tmp_path / "out")
    assert (tmp_path / "out" / "dumps" / "db.sql").read_bytes() == DUMP
    assert not (tmp_path / ".dump-0.partial-1").exists()


def test_a_failed_dump_raises_when_added_and_leaves_no_spool(tmp_path: Path):
    database = SlowDatabase(code=1)
    dump = SpooledDump(database, "db", SPEC, tmp_path / ".dump-0.partial-1")  # type: ignore[arg-type]
    database.go.set()
    writer = ArchiveWriter(io.BytesIO(), Keys())
    with pytest.raises(EngineError, match="the dump of db failed"):
        dump.add_to(writer, "dumps/db.sql")
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_a_discarded_dump_leaves_no_spool_even_when_it_ends_later(tmp_path: Path):
    database = SlowDatabase()
    dump = SpooledDump(database, "db", SPEC, tmp_path / ".dump-0.partial-1")  # type: ignore[arg-type]
    dump.discard()  # the backup failed while the database was still dumping
    database.go.set()
    dump._thread.join(5)
    assert list(tmp_path.iterdir()) == []
