"""The archive: a tar stream, zstd-compressed, age-encrypted, written and read in constant
memory. Every member's SHA-256 is taken while it streams; `manifest.json` comes last and
lists them all, so a reader checks every byte against it before anything is put back.

Opened by hand: `age -d -i key.txt FILE | zstd -d | tar -x` (see docs/backup.md).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from stackctl.backup import age
from stackctl.backup.pipeline import Stage
from stackctl.errors import StackctlError

MANIFEST = "manifest.json"
FORMAT = "stackctl-backup/1"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
COPY_BUFFER = 1024 * 1024  # reading


class ArchiveError(StackctlError):
    """The archive cannot be trusted: cut short, altered, or not a stackctl backup."""


@dataclass(frozen=True)
class Keys:
    """How the archive is (or was) encrypted; all empty means not at all."""

    passphrase: bytes | None = None
    recipients: tuple[str, ...] = ()
    identities: str = ""  # the text of an age identity file

    @property
    def encrypted(self) -> bool:
        return self.passphrase is not None or bool(self.recipients)


PIECE = 1024 * 1024  # what a stage hands the next one: few, large pieces
BLOCK = tarfile.BLOCKSIZE
RECORD = tarfile.RECORDSIZE


class ArchiveWriter:
    """Members go in one at a time, streamed; `finish()` adds the manifest and seals.

    Three threads share the work: the caller's frames the tar stream itself (tarfile's
    stream mode copies every byte through a 10 KiB record buffer) and hashes each member;
    one compresses (zstd -3, a worker per core); one encrypts and writes. Bounded queues
    join them, so memory stays flat. After a failure, `abort()` stops the threads.
    """

    def __init__(
        self, out: BinaryIO, keys: Keys, on_bytes: Callable[[int], None] = lambda n: None
    ) -> None:
        import zstandard

        sink: Any = out
        seal: Callable[[], None] | None = None  # `out` itself is the caller's to close
        self.file_key: bytes | None = None  # for `verify`, when encrypted
        if keys.encrypted:
            recipients = [age.parse_recipient(r) for r in keys.recipients]
            sink = age.Encryptor(out, passphrase=keys.passphrase, recipients=recipients)
            seal, self.file_key = sink.close, sink.file_key
        self._writing = Stage("archive-write", sink.write, seal)
        # threads=-1: one compression worker per core, as `zstd -T0`; a content checksum
        # in each frame, as the zstd tool writes, so `zstd -d` checks what it unpacks
        compressor = zstandard.ZstdCompressor(level=3, threads=-1, write_checksum=True)
        self._zstd = compressor.stream_writer(self._writing, closefd=False, write_size=PIECE)
        self._compressing = Stage("archive-compress", self._zstd.write, self._zstd.close)
        self._pending = bytearray()
        self._offset = 0
        self.checksums: dict[str, str] = {}
        self._on_bytes = on_bytes

    def _emit(self, data: bytes | bytearray) -> None:
        """Into the tar stream; small pieces are gathered so a queued piece is large."""
        self._offset += len(data)
        if not self._pending and len(data) >= PIECE:
            self._compressing.write(data)
            return
        self._pending += data
        if len(self._pending) >= PIECE:
            self._compressing.write(self._pending)
            self._pending = bytearray()

    def _info(self, name: str, path: Path | None, kind: bytes, size: int = 0) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type, info.size = kind, size
        if path is not None:
            st = path.lstat()
            info.mode, info.uid, info.gid, info.mtime = (
                st.st_mode & 0o7777,
                st.st_uid,
                st.st_gid,
                st.st_mtime,
            )
        else:
            info.mode, info.mtime = 0o600, 0
        return info

    def _header(self, info: tarfile.TarInfo) -> None:
        self._emit(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))

    def add_stream(
        self,
        name: str,
        source: BinaryIO,
        size: int,
        path: Path | None = None,
        digest: str | None = None,
    ) -> None:
        """`size` bytes of `source` (zeros where it ends early: it shrank while read);
        `digest` is the SHA-256 of those bytes when the caller took it already."""
        self._header(self._info(name, path, tarfile.REGTYPE, size))
        hashing = hashlib.sha256() if digest is None else None
        left = size
        while left:
            chunk = source.read(min(PIECE, left)) or bytes(min(PIECE, left))
            if hashing is not None:
                hashing.update(chunk)
            self._emit(chunk)
            self._on_bytes(len(chunk))
            left -= len(chunk)
        if size % BLOCK:
            self._emit(bytes(BLOCK - size % BLOCK))
        self.checksums[name] = digest if hashing is None else hashing.hexdigest()

    def add_bytes(self, name: str, data: bytes) -> None:
        self.add_stream(name, io.BytesIO(data), len(data))

    def add_tree(self, name: str, root: Path, skip: Callable[[str], bool] | None = None) -> None:
        """A file, or a folder and everything under it (symlinks as links, never followed);
        `skip` is asked about each path relative to `root`."""
        for path, arcname in _walk(root, name):
            if skip is not None and arcname != name and skip(arcname[len(name) + 1 :]):
                continue
            if path.is_symlink():
                info = self._info(arcname, path, tarfile.SYMTYPE)
                info.linkname = os.readlink(path)
                self._header(info)
                self.checksums[arcname] = "link:" + info.linkname
            elif path.is_dir():
                self._header(self._info(arcname, path, tarfile.DIRTYPE))
            elif path.is_file():
                with path.open("rb", buffering=0) as source:
                    size = os.fstat(source.fileno()).st_size
                    self.add_stream(arcname, source, size, path)  # type: ignore[arg-type]
            # sockets, fifos and devices are not data

    def finish(self, manifest: dict[str, Any]) -> None:
        manifest = {**manifest, "format": FORMAT, "checksums": self.checksums}
        data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
        self._header(self._info(MANIFEST, None, tarfile.REGTYPE, len(data)))
        self._emit(data + bytes(-len(data) % BLOCK))
        # the end of a tar stream: two zero blocks, then zeros to a whole record, as tar writes
        end = self._offset + 2 * BLOCK
        self._emit(bytes(2 * BLOCK + -end % RECORD))
        if self._pending:
            self._compressing.write(self._pending)
            self._pending = bytearray()
        self._compressing.close()
        self._writing.close()

    def abort(self) -> None:
        """Stop the threads after a failure (what was written is left to the caller)."""
        self._writing.abort()
        self._compressing.abort()


def _walk(root: Path, name: str) -> Iterator[tuple[Path, str]]:
    yield root, name
    if root.is_dir() and not root.is_symlink():
        for child in sorted(root.iterdir()):
            yield from _walk(child, f"{name}/{child.name}")


# -- reading ----------------------------------------------------------------------------------


def _plain_stream(source: BinaryIO, keys: Keys) -> BinaryIO:
    import zstandard

    start = source.read(4)
    source.seek(0)
    if start == ZSTD_MAGIC:
        plain: Any = source
    elif start == b"age-":
        if not keys.encrypted and not keys.identities:
            raise ArchiveError(
                "the archive is encrypted", "give --passphrase-file FILE or --identity FILE"
            )
        identities = age.parse_identities(keys.identities) if keys.identities else ()
        plain = age.Decryptor(source, passphrase=keys.passphrase, identities=identities)
    else:
        raise ArchiveError("the file is not a stackctl backup (neither age nor zstd)")
    return zstandard.ZstdDecompressor().stream_reader(plain, read_across_frames=True)


def safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ArchiveError(f"the archive holds a member outside its folder: {name!r}")
    return path


def extract(
    source: BinaryIO,
    keys: Keys,
    into: Path | None,
    on_bytes: Callable[[int], None] = lambda n: None,
) -> dict[str, Any]:
    """Everything into `into` (owners and modes kept; None only checks); the manifest, once
    every member's checksum matched it. Any problem raises ArchiveError; the caller
    discards `into`."""
    import zstandard

    try:
        stream = _plain_stream(source, keys)
        seen: dict[str, str] = {}
        manifest: dict[str, Any] | None = None
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if manifest is not None:
                    raise ArchiveError("the archive holds members after its manifest")
                if member.name == MANIFEST:
                    manifest = json.loads(tar.extractfile(member).read())  # type: ignore[union-attr]
                    continue
                found = _extract_member(tar, member, into, on_bytes)
                if found is not None:
                    seen[member.name] = found
    except (tarfile.TarError, zstandard.ZstdError, EOFError) as exc:
        raise ArchiveError(
            f"the archive is cut short or damaged ({exc})",
            "take the archive again from where it was stored; this copy is damaged",
        ) from None
    if manifest is None or manifest.get("format") != FORMAT:
        raise ArchiveError(
            "the archive has no stackctl manifest: it is cut short, or not a stackctl backup"
        )
    expected = manifest.get("checksums", {})
    wrong = sorted(n for n in set(expected) | set(seen) if expected.get(n) != seen.get(n))
    if wrong:
        raise ArchiveError(
            f"{len(wrong)} member(s) do not match the manifest's checksums: {', '.join(wrong[:5])}",
            "the archive was altered; use another copy",
        )
    return manifest


def _extract_member(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    into: Path | None,
    on_bytes: Callable[[int], None],
) -> str | None:
    """The member's checksum (None for a folder)."""
    relative = safe_name(member.name)
    if into is None:
        return _check_member(tar, member, on_bytes)
    target = into / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if member.issym():
        if os.path.isabs(member.linkname):
            raise ArchiveError(f"the archive holds an absolute link: {member.name!r}")
        target.symlink_to(member.linkname)
        if os.geteuid() == 0:
            os.lchown(target, member.uid, member.gid)
        return "link:" + member.linkname
    if member.isdir():
        target.mkdir(exist_ok=True)
        _own(target, member)
        return None
    if not member.isfile():
        raise ArchiveError(f"the archive holds a member of an unknown kind: {member.name!r}")
    digest = hashlib.sha256()
    source = tar.extractfile(member)
    assert source is not None
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(COPY_BUFFER):
            digest.update(chunk)
            out.write(chunk)
            on_bytes(len(chunk))
    _own(target, member)
    return digest.hexdigest()


def _check_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, on_bytes: Callable[[int], None]
) -> str | None:
    if member.issym():
        return "link:" + member.linkname
    if not member.isfile():
        return None
    digest = hashlib.sha256()
    source = tar.extractfile(member)
    assert source is not None
    while chunk := source.read(COPY_BUFFER):
        digest.update(chunk)
        on_bytes(len(chunk))
    return digest.hexdigest()


def verify(path: Path, keys: Keys, file_key: bytes | None) -> None:
    """Read a just-written archive back. An encrypted one must authenticate, chunk by chunk,
    to its sealed last chunk, under the key it was written with (`ArchiveWriter.file_key`):
    a cut or garbled write fails, and it costs one decryption, not a second scrypt or a
    second hash of every member (those are taken from the very bytes the tar stream
    carries). An unencrypted one is read through, every member against the manifest."""
    with path.open("rb") as source:
        if file_key is None:
            extract(source, keys, None)
            return
        try:
            age.Decryptor(source, file_key=file_key).check()
        except age.AgeError as exc:
            raise ArchiveError(
                f"{path} does not read back as written: {exc.message}", "check the disk"
            ) from None


def _own(path: Path, member: tarfile.TarInfo) -> None:
    if os.geteuid() == 0:
        os.chown(path, member.uid, member.gid)
    os.chmod(path, member.mode)
    os.utime(path, (member.mtime, member.mtime))
