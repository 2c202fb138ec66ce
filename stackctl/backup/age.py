"""The age v1 file format (age-encryption.org/v1), streamed: a passphrase (scrypt) or X25519
recipients, ChaCha20-Poly1305 in 64 KiB chunks, so an archive of any size is encrypted and
decrypted in constant memory, and opens with the `age` command-line tool.

Built on `cryptography` (already a dependency): the Python bindings of rage encrypt a
passphrase only from bytes held in memory.
"""

from __future__ import annotations

import base64
import hmac
import os
from collections.abc import Sequence
from hashlib import sha256
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from stackctl.errors import StackctlError

VERSION_LINE = b"age-encryption.org/v1"
CHUNK = 64 * 1024
TAG = 16
SCRYPT_WORK = 18  # log2 of scrypt's N: about a second, as age itself chooses
MAX_SCRYPT_WORK = 22
_ZERO_NONCE = bytes(12)


class AgeError(StackctlError):
    """The archive cannot be decrypted: wrong key or passphrase, cut short, or altered."""


def _b64(data: bytes) -> bytes:
    return base64.b64encode(data).rstrip(b"=")


def _unb64(text: bytes) -> bytes:
    if b"=" in text or b"\r" in text:
        raise AgeError("the archive's age header is malformed")
    try:
        return base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except ValueError:
        raise AgeError("the archive's age header is malformed") from None


def _hkdf(key: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt, info).derive(key)


def _wrap(key: bytes, file_key: bytes) -> bytes:
    return ChaCha20Poly1305(key).encrypt(_ZERO_NONCE, file_key, None)


def _unwrap(key: bytes, body: bytes) -> bytes | None:
    try:
        return ChaCha20Poly1305(key).decrypt(_ZERO_NONCE, body, None)
    except InvalidTag:
        return None


def _scrypt_key(passphrase: bytes, salt: bytes, work: int) -> bytes:
    kdf = Scrypt(salt=b"age-encryption.org/v1/scrypt" + salt, length=32, n=1 << work, r=8, p=1)
    return kdf.derive(passphrase)


# -- bech32 keys (age1... recipients, AGE-SECRET-KEY-1... identities) ------------------------

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values: list[int]) -> int:
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            check ^= generator[i] if (top >> i) & 1 else 0
    return check


def _expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert(data: Sequence[int], src: int, dst: int, pad: bool) -> list[int]:
    acc = bits = 0
    out = []
    for value in data:
        acc = (acc << src) | value
        bits += src
        while bits >= dst:
            bits -= dst
            out.append((acc >> bits) & ((1 << dst) - 1))
    if pad and bits:
        out.append((acc << (dst - bits)) & ((1 << dst) - 1))
    elif not pad and (bits >= src or (acc << (dst - bits)) & ((1 << dst) - 1)):
        raise ValueError("bad padding")
    return out


def bech32_encode(hrp: str, data: bytes) -> str:
    words = _convert(data, 8, 5, True)
    check = _polymod(_expand(hrp) + words + [0] * 6) ^ 1
    words += [(check >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[w] for w in words)


def bech32_decode(text: str, hrp: str) -> bytes:
    lowered = text.strip().lower()
    if text.strip() not in (lowered, lowered.upper()) or not lowered.startswith(hrp + "1"):
        raise ValueError(f"not an {hrp} key")
    words = [_CHARSET.find(c) for c in lowered[len(hrp) + 1 :]]
    if -1 in words or len(words) < 6 or _polymod(_expand(hrp) + words) != 1:
        raise ValueError("bad checksum")
    return bytes(_convert(words[:-6], 5, 8, False))


def new_identity() -> tuple[str, str]:
    """(identity, recipient) as age-keygen writes them."""
    from cryptography.hazmat.primitives import serialization

    key = X25519PrivateKey.generate()
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return bech32_encode("age-secret-key-", raw).upper(), bech32_encode("age", public)


def parse_recipient(text: str) -> X25519PublicKey:
    try:
        raw = bech32_decode(text, "age")
        if len(raw) != 32:
            raise ValueError("wrong length")
        return X25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise StackctlError(
            f"{text.strip()[:20]!r}... is not an age recipient",
            "give the public key age-keygen printed (age1...)",
        ) from None


def parse_identities(text: str) -> list[X25519PrivateKey]:
    """The identities of an age key file (comments and blank lines skipped)."""
    keys = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            raw = bech32_decode(line, "age-secret-key-")
            keys.append(X25519PrivateKey.from_private_bytes(raw))
        except ValueError:
            raise StackctlError(
                "the identity file holds a line that is not an age identity",
                "give the file age-keygen wrote (AGE-SECRET-KEY-1...)",
            ) from None
    if not keys:
        raise StackctlError("the identity file holds no age identity", "")
    return keys


def _public_raw(key: X25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# -- writing --------------------------------------------------------------------------------


def _header(stanzas: list[bytes], file_key: bytes) -> bytes:
    head = VERSION_LINE + b"\n" + b"".join(stanzas) + b"---"
    mac = hmac.new(_hkdf(file_key, b"", b"header"), head, sha256).digest()
    return head + b" " + _b64(mac) + b"\n"


def _stanza(kind: bytes, args: list[bytes], body: bytes) -> bytes:
    encoded = _b64(body)
    lines = [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
    if not lines or len(lines[-1]) == 64:
        lines.append(b"")  # the last line is always shorter than a full one
    return b"-> " + b" ".join([kind, *args]) + b"\n" + b"".join(line + b"\n" for line in lines)


class Encryptor:
    """A writable stream: what is written to it reaches `out` encrypted, chunk by chunk."""

    def __init__(
        self,
        out: BinaryIO,
        passphrase: bytes | None = None,
        recipients: Sequence[X25519PublicKey] = (),
        work: int | None = None,
    ) -> None:
        if (passphrase is None) == (not recipients):
            raise ValueError("give a passphrase or recipients")
        file_key = os.urandom(16)
        stanzas = []
        if passphrase is not None:
            salt = os.urandom(16)
            work = work or SCRYPT_WORK
            key = _scrypt_key(passphrase, salt, work)
            stanzas.append(
                _stanza(b"scrypt", [_b64(salt), str(work).encode()], _wrap(key, file_key))
            )
        for recipient in recipients:
            ephemeral = X25519PrivateKey.generate()
            share = _public_raw(ephemeral.public_key())
            shared = ephemeral.exchange(recipient)
            key = _hkdf(shared, share + _public_raw(recipient), b"age-encryption.org/v1/X25519")
            stanzas.append(_stanza(b"X25519", [_b64(share)], _wrap(key, file_key)))
        nonce = os.urandom(16)
        out.write(_header(stanzas, file_key) + nonce)
        self.file_key = file_key  # the writer's own read-back check opens the file with it
        self._aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
        self._out = out
        self._buffer = bytearray()
        self._counter = 0

    def _seal(self, chunk: bytes | memoryview, last: bool) -> bytes:
        nonce = self._counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")
        self._counter += 1
        return self._aead.encrypt(nonce, chunk, None)

    def write(self, data: bytes) -> int:
        # a chunk is sealed only once more bytes follow it: the last one is sealed differently
        view = memoryview(data).cast("B")
        sealed = []
        if self._buffer:
            room = CHUNK - len(self._buffer)
            if len(view) <= room:
                self._buffer += view
                return len(data)
            self._buffer += view[:room]
            view = view[room:]
            sealed.append(self._seal(bytes(self._buffer), last=False))
            self._buffer = bytearray()
        while len(view) > CHUNK:
            sealed.append(self._seal(view[:CHUNK], last=False))
            view = view[CHUNK:]
        self._buffer += view
        if sealed:  # one write for all: fewer trips through the GIL on a busy machine
            self._out.write(b"".join(sealed))
        return len(data)

    def close(self) -> None:
        self._out.write(self._seal(bytes(self._buffer), last=True))
        self._buffer = bytearray()

    def flush(self) -> None:  # a stream's flush; sealing waits for close
        pass


# -- reading --------------------------------------------------------------------------------


def _read_line(source: BinaryIO) -> bytes:
    line = source.readline(1024)
    if not line.endswith(b"\n"):
        raise AgeError(
            "the archive is not an age file, or its header is cut short",
            "check the file name; an unencrypted archive is opened with --no-encrypt",
        )
    return line[:-1]


def _file_key(
    stanzas: list[tuple[list[bytes], bytes]],
    passphrase: bytes | None,
    identities: Sequence[X25519PrivateKey],
) -> bytes:
    kinds = [args[0] for args, _ in stanzas]
    if b"scrypt" in kinds:
        if len(stanzas) != 1:
            raise AgeError("the archive's age header is malformed")
        if passphrase is None:
            raise AgeError(
                "the archive is encrypted with a passphrase", "give it with --passphrase-file"
            )
        args, body = stanzas[0]
        if len(args) != 3 or not args[2].isdigit() or not 1 <= int(args[2]) <= MAX_SCRYPT_WORK:
            raise AgeError("the archive's age header is malformed")
        found = _unwrap(_scrypt_key(passphrase, _unb64(args[1]), int(args[2])), body)
        if found is None:
            raise AgeError(
                "wrong passphrase for this archive", "check the passphrase file (no stray newline)"
            )
        return found
    if not identities:
        raise AgeError(
            "the archive is encrypted to age recipients", "give the identity file with --identity"
        )
    for args, body in stanzas:
        if args[0] != b"X25519" or len(args) != 2:
            continue
        share = _unb64(args[1])
        for identity in identities:
            shared = identity.exchange(X25519PublicKey.from_public_bytes(share))
            recipient = _public_raw(identity.public_key())
            found = _unwrap(_hkdf(shared, share + recipient, b"age-encryption.org/v1/X25519"), body)
            if found is not None:
                return found
    raise AgeError(
        "none of the given identities opens this archive",
        "give the identity whose public key the backup was made for",
    )


class Decryptor:
    """A readable stream of the plaintext; a cut or altered chunk raises AgeError."""

    def __init__(
        self,
        source: BinaryIO,
        passphrase: bytes | None = None,
        identities: Sequence[X25519PrivateKey] = (),
        file_key: bytes | None = None,
    ) -> None:
        """`file_key`: the key the archive was written with, instead of a passphrase or an
        identity (the writer checking its own archive)."""
        head = bytearray()
        first = _read_line(source)
        if first != VERSION_LINE:
            raise AgeError(
                "the archive is not an age file",
                "check the file name; an unencrypted archive is opened with --no-encrypt",
            )
        head += first + b"\n"
        stanzas: list[tuple[list[bytes], bytes]] = []
        while True:
            line = _read_line(source)
            if line.startswith(b"--- "):
                mac = _unb64(line[4:])
                head += b"---"
                break
            if not line.startswith(b"-> "):
                raise AgeError("the archive's age header is malformed")
            head += line + b"\n"
            body = b""
            while True:
                part = _read_line(source)
                head += part + b"\n"
                body += _unb64(part)
                if len(part) < 64:
                    break
            stanzas.append((line[3:].split(b" "), body))
        if file_key is None:
            file_key = _file_key(stanzas, passphrase, identities)
        expected = hmac.new(_hkdf(file_key, b"", b"header"), bytes(head), sha256).digest()
        if not hmac.compare_digest(mac, expected):
            raise AgeError("the archive's header was altered (its MAC does not match)")
        nonce = source.read(16)
        if len(nonce) != 16:
            raise AgeError("the archive is cut short")
        self._aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
        self._source = source
        self._counter = 0
        self._ahead = source.read(CHUNK + TAG)
        self._plain = b""
        self._offset = 0
        self._done = False

    def _next_chunk(self) -> None:
        sealed, self._ahead = self._ahead, self._source.read(CHUNK + TAG)
        last = not self._ahead
        if len(sealed) < TAG or (not last and len(sealed) != CHUNK + TAG):
            raise AgeError("the archive is cut short or altered")
        nonce = self._counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")
        try:
            self._plain, self._offset = self._aead.decrypt(nonce, sealed, None), 0
        except InvalidTag:
            raise AgeError(
                "the archive is cut short or altered (a chunk does not authenticate)",
                "take the archive again from where it was stored; this copy is damaged",
            ) from None
        if not self._plain and self._counter > 0:
            raise AgeError("the archive is altered (an empty last chunk)")
        self._counter += 1
        self._done = last

    def check(self) -> int:
        """Authenticate every chunk to the end, keeping none; the plaintext's length."""
        total = 0
        while not self._done:
            self._next_chunk()
            total += len(self._plain)
        self._plain, self._offset = b"", 0
        return total

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while size < 0 or len(out) < size:
            if self._offset >= len(self._plain):
                if self._done:
                    break
                self._next_chunk()
                continue
            end = len(self._plain) if size < 0 else self._offset + size - len(out)
            piece = self._plain[self._offset : end]
            out += piece
            self._offset += len(piece)
        return bytes(out)

    def readable(self) -> bool:
        return True
