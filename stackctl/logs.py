"""Log text: colour codes stripped, lines filtered by a regex, matches highlighted.

Work is done on large chunks with C-level regex calls (strip, then find matching lines),
so `stackctl logs --grep` keeps pace with `docker logs | grep`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from stackctl.errors import StackctlError

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def compile_grep(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    flags = re.MULTILINE | (re.IGNORECASE if ignore_case else 0)
    try:
        re.compile(pattern)
        return re.compile(rf"^[^\n]*?(?:{pattern})[^\n]*$", flags)
    except re.error as exc:
        raise StackctlError(
            f"--grep {pattern!r} is not a valid regular expression: {exc}",
            "quote it in the shell; escape ( ) [ ] with a backslash",
        ) from None


def blocks(chunks: Iterable[bytes]) -> Iterator[str]:
    """Whole-line text blocks, colour codes removed; a partial last line waits for the next chunk."""
    rest = b""
    for chunk in chunks:
        data = rest + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        rest = data[cut + 1 :]
        yield strip_ansi(data[: cut + 1].decode("utf-8", "replace"))
    if rest:
        yield strip_ansi(rest.decode("utf-8", "replace")) + "\n"


def grep_blocks(text_blocks: Iterable[str], matcher: re.Pattern[str]) -> Iterator[str]:
    """Matching lines, each block's matches joined into one string ending in a newline."""
    for block in text_blocks:
        found = matcher.findall(block)
        if found:
            yield "\n".join(found) + "\n"


def lines(text_blocks: Iterable[str]) -> Iterator[str]:
    for block in text_blocks:
        yield from block.splitlines()
