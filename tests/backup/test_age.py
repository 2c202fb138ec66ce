"""The archive's encryption is the age format: the `age` tool opens what stackctl writes,
and stackctl opens what `age` writes; a wrong key, a cut or an altered byte is refused."""

from __future__ import annotations

import io
import os
import pty
import shutil
import subprocess
from pathlib import Path

import pytest

from stackctl.backup import age

needs_age = pytest.mark.skipif(shutil.which("age") is None, reason="Debian's age is not installed")


def encrypt(data: bytes, **keys) -> bytes:
    out = io.BytesIO()
    writer = age.Encryptor(out, **keys)
    for i in range(0, len(data), 10_000):
        writer.write(data[i : i + 10_000])
    writer.close()
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, age.CHUNK, age.CHUNK + 1, 3 * age.CHUNK + 7])
def test_a_passphrase_and_a_recipient_round_trip_at_every_chunk_edge(size):
    data = os.urandom(size)
    sealed = encrypt(data, passphrase=b"pw", work=10)
    assert age.Decryptor(io.BytesIO(sealed), passphrase=b"pw").read() == data
    identity, recipient = age.new_identity()
    sealed = encrypt(data, recipients=[age.parse_recipient(recipient)])
    opened = age.Decryptor(io.BytesIO(sealed), identities=age.parse_identities(identity))
    assert opened.read() == data


def test_a_wrong_passphrase_is_named():
    sealed = encrypt(b"x", passphrase=b"right", work=10)
    with pytest.raises(age.AgeError, match="wrong passphrase"):
        age.Decryptor(io.BytesIO(sealed), passphrase=b"wrong")


def test_another_identity_is_refused():
    _, recipient = age.new_identity()
    other, _ = age.new_identity()
    sealed = encrypt(b"x", recipients=[age.parse_recipient(recipient)])
    with pytest.raises(age.AgeError, match="none of the given identities"):
        age.Decryptor(io.BytesIO(sealed), identities=age.parse_identities(other))


@pytest.mark.parametrize("cut", [1, age.CHUNK + age.TAG, 20])
def test_a_cut_archive_is_refused(cut):
    sealed = encrypt(os.urandom(3 * age.CHUNK), passphrase=b"pw", work=10)
    reader = age.Decryptor(io.BytesIO(sealed[:-cut]), passphrase=b"pw")
    with pytest.raises(age.AgeError, match="cut short"):
        reader.read()


def test_an_altered_byte_is_refused():
    sealed = bytearray(encrypt(os.urandom(2 * age.CHUNK), passphrase=b"pw", work=10))
    sealed[-age.CHUNK] ^= 1
    with pytest.raises(age.AgeError, match="altered"):
        age.Decryptor(io.BytesIO(bytes(sealed)), passphrase=b"pw").read()


@needs_age
def test_the_age_tool_opens_stackctl_archives_and_the_reverse(tmp_path: Path):
    key = tmp_path / "key.txt"
    subprocess.run(["age-keygen", "-o", key], check=True, capture_output=True)
    identity = key.read_text()
    recipient = subprocess.run(
        ["age-keygen", "-y", key], check=True, capture_output=True, text=True
    ).stdout.strip()
    data = os.urandom(2 * age.CHUNK + 5)
    sealed = encrypt(data, recipients=[age.parse_recipient(recipient)])
    opened = subprocess.run(["age", "-d", "-i", key], input=sealed, capture_output=True, check=True)
    assert opened.stdout == data
    theirs = subprocess.run(["age", "-r", recipient], input=data, capture_output=True, check=True)
    assert (
        age.Decryptor(io.BytesIO(theirs.stdout), identities=age.parse_identities(identity)).read()
        == data
    )


@needs_age
def test_the_age_tool_opens_a_passphrase_archive(tmp_path: Path):
    data = os.urandom(age.CHUNK + 3)
    (tmp_path / "a.age").write_bytes(encrypt(data, passphrase=b"correct horse", work=12))
    # age reads a passphrase from the terminal only: give it one
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.chdir(tmp_path)
        os.execvp("age", ["age", "-d", "-o", "out", "a.age"])
    seen = b""
    while b"passphrase" not in seen.lower():
        seen += os.read(fd, 100)
    os.write(fd, b"correct horse\n")
    try:
        while os.read(fd, 100):
            pass
    except OSError:
        pass
    _, status = os.waitpid(pid, 0)
    assert status == 0
    assert (tmp_path / "out").read_bytes() == data
