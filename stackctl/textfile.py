"""Reading the small text files a user edits (stackctl.toml): refused with a clear reason when
they are not what they claim to be — another encoding, binary, huge, or nested without end."""

from __future__ import annotations

import codecs
import tomllib
from pathlib import Path
from typing import Any

from stackctl.errors import SettingsError

MAX_BYTES = 1 << 20  # a settings file is a few kilobytes; this is far beyond any real one
MAX_LINE = 8192  # tomllib is quadratic in the parts of a dotted key: keep lines sane

_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
    (codecs.BOM_UTF8, "UTF-8 with a byte-order mark"),
)
SAVE_AS_UTF8 = "save it as UTF-8 without a byte-order mark (e.g. `iconv -t UTF-8`)"


def read_text(path: Path, error: type[SettingsError] = SettingsError) -> str:
    """The file as UTF-8 text, or `error` saying why it is not."""
    try:
        if path.is_dir():
            raise error(f"{path} is a folder, not a file", "point at the file itself")
        data = path.read_bytes()
    except OSError as exc:
        raise error(
            f"cannot read {path}: {exc.strerror}",
            "check that the file exists and that this user may read it",
        ) from exc
    if len(data) > MAX_BYTES:
        raise error(
            f"{path} is {len(data)} bytes: far too big for a settings file",
            "is it the right file? it should be a few kilobytes of TOML",
        )
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise error(f"{path} is encoded as {name}", SAVE_AS_UTF8)
    if b"\x00" in data:
        raise error(f"{path} holds NUL bytes: it is not a text file", SAVE_AS_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(
            f"{path} is not UTF-8: byte 0x{data[exc.start]:02x} on line {line}",
            SAVE_AS_UTF8 + "; Latin-1 files: `iconv -f LATIN1 -t UTF-8`",
        ) from None
    for number, line in enumerate(text.splitlines(), 1):
        if len(line) > MAX_LINE:
            raise error(
                f"{path} line {number} is {len(line)} characters long",
                f"keep lines under {MAX_LINE} characters",
            )
    return text


def read_toml(path: Path, hint: str, error: type[SettingsError] = SettingsError) -> dict[str, Any]:
    """Parse a TOML file; every way it can be broken is one `error` naming the file."""
    text = read_text(path, error)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path} is not valid TOML: {exc}", hint) from None
    except (RecursionError, MemoryError):
        raise error(f"{path} nests arrays or tables too deeply", hint) from None
    except ValueError as exc:  # e.g. an integer too long to convert
        raise error(f"{path} holds a value TOML cannot read: {exc}", hint) from None
