"""The archive writer frames the tar stream itself and runs on three threads: what it writes
is a standard tar stream at every size edge, its read-back check catches a damaged file, and
a failure while writing stops every thread."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import threading
from pathlib import Path

import pytest
import zstandard

from stackctl.backup import age
from stackctl.backup.archive import (
    MANIFEST,
    PIECE,
    ArchiveError,
    ArchiveWriter,
    Keys,
    extract,
    verify,
)


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch):
    monkeypatch.setattr(age, "SCRYPT_WORK", 10)


SIZES = [0, 1, 511, 512, 513, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE + 5]


def stage_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("archive-")]


def write(tmp_path: Path, keys: Keys) -> tuple[Path, ArchiveWriter, dict[str, bytes]]:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    contents = {}
    for size in SIZES:
        data = os.urandom(size)
        (tree / "sub" / f"f{size}").write_bytes(data)
        contents[f"data/tree/sub/f{size}"] = data
    (tree / "link").symlink_to("sub/f1")
    archive = tmp_path / "archive"
    with archive.open("wb") as out:
        writer = ArchiveWriter(out, keys)
        writer.add_tree("data/tree", tree)
        writer.add_bytes("notes/" + "long-name-" * 12, b"a name past tar's 100 bytes")
        writer.finish({"stacks": {}})
    return archive, writer, contents


@pytest.mark.parametrize("keys", [Keys(), Keys(passphrase=b"pw")], ids=["plain", "passphrase"])
def test_every_size_edge_reads_back_through_tarfile_and_the_manifest(tmp_path, keys):
    archive, writer, contents = write(tmp_path, keys)
    assert stage_threads() == []
    with archive.open("rb") as source:
        manifest = extract(source, keys, tmp_path / "out")
    for name, data in contents.items():
        assert (tmp_path / "out" / name).read_bytes() == data
        assert manifest["checksums"][name] == hashlib.sha256(data).hexdigest()
    assert os.readlink(tmp_path / "out" / "data/tree/link") == "sub/f1"
    assert (tmp_path / "out" / ("notes/" + "long-name-" * 12)).exists()


def test_the_stream_is_a_tar_of_whole_records_ending_in_the_manifest(tmp_path):
    archive, _, _ = write(tmp_path, Keys())
    plain = zstandard.ZstdDecompressor().stream_reader(archive.open("rb")).read()
    assert len(plain) % tarfile.RECORDSIZE == 0
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r:") as tar:
        names = tar.getnames()
    assert names[-1] == MANIFEST and "data/tree/sub/f513" in names


def test_a_member_that_shrinks_while_read_is_padded_with_zeros(tmp_path):
    archive = tmp_path / "archive"
    with archive.open("wb") as out:
        writer = ArchiveWriter(out, Keys())
        writer.add_stream("short", io.BytesIO(b"abc"), 10)
        writer.finish({})
    with archive.open("rb") as source:
        manifest = extract(source, Keys(), tmp_path / "out")
    assert (tmp_path / "out" / "short").read_bytes() == b"abc" + bytes(7)
    assert manifest["checksums"]["short"] == hashlib.sha256(b"abc" + bytes(7)).hexdigest()


def test_a_digest_taken_already_is_used_as_given(tmp_path):
    archive = tmp_path / "archive"
    with archive.open("wb") as out:
        writer = ArchiveWriter(out, Keys())
        writer.add_stream("dump.sql", io.BytesIO(b"rows"), 4, digest="d" * 64)
        writer.finish({})
    assert writer.checksums["dump.sql"] == "d" * 64


def test_the_read_back_authenticates_a_recipients_archive_with_the_writers_key(tmp_path):
    _, recipient = age.new_identity()
    keys = Keys(recipients=(recipient,))
    archive, writer, _ = write(tmp_path, keys)
    assert writer.file_key is not None
    verify(archive, keys, writer.file_key)
    data = bytearray(archive.read_bytes())
    data[-100] ^= 1
    archive.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="does not read back as written"):
        verify(archive, keys, writer.file_key)


def test_the_read_back_refuses_a_cut_archive(tmp_path):
    keys = Keys(passphrase=b"pw")
    archive, writer, _ = write(tmp_path, keys)
    archive.write_bytes(archive.read_bytes()[: -(age.CHUNK + age.TAG)])
    with pytest.raises(ArchiveError, match="does not read back as written"):
        verify(archive, keys, writer.file_key)


class FullDisk(io.RawIOBase):
    """Takes one MiB, then fails as a full disk does."""

    def __init__(self) -> None:
        self.taken = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        if self.taken > 1 << 20:
            raise OSError(28, "No space left on device")
        self.taken += len(data)
        return len(data)


def test_a_failing_write_stops_the_caller_and_every_thread(tmp_path):
    big = tmp_path / "big"
    big.write_bytes(os.urandom(8 * PIECE))
    writer = ArchiveWriter(FullDisk(), Keys(passphrase=b"pw"))  # type: ignore[arg-type]
    with pytest.raises(OSError, match="No space left"):
        writer.add_tree("big", big)
        writer.finish({})
    writer.abort()
    assert stage_threads() == []
