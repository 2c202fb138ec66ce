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


class AnsiStripper:
    """Strips colour codes, fast for real logs: a program uses a handful of distinct escape
    sequences, and removing known ones with str.replace beats a regex pass several times over."""

    def __init__(self) -> None:
        self.known: set[str] = set()

    def __call__(self, text: str) -> str:
        if "\x1b" not in text:
            return text
        for code in self.known:
            text = text.replace(code, "")
        if "\x1b" in text:
            if len(self.known) < 64:  # learn this log's sequences; give up learning on odd input
                self.known.update(ANSI.findall(text))
            text = ANSI.sub("", text)
        return text


def compile_grep(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.MULTILINE | (re.IGNORECASE if ignore_case else 0))
    except re.error as exc:
        raise StackctlError(
            f"--grep {pattern!r} is not a valid regular expression: {exc}",
            "quote it in the shell; escape ( ) [ ] with a backslash",
        ) from None


def blocks(chunks: Iterable[bytes]) -> Iterator[str]:
    """Whole-line text blocks, colour codes removed; a partial last line waits for the next chunk."""
    strip = AnsiStripper()
    rest = b""
    for chunk in chunks:
        data = rest + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        rest = data[cut + 1 :]
        yield strip(data[: cut + 1].decode("utf-8", "replace"))
    if rest:
        yield strip(rest.decode("utf-8", "replace")) + "\n"


def matching_lines(block: str, matcher: re.Pattern[str]) -> list[str]:
    """The lines of a block that contain a match: the regex engine scans, Python only slices."""
    found = []
    position = 0
    while position < len(block):
        match = matcher.search(block, position)
        if match is None:
            break
        start = block.rfind("\n", 0, match.start()) + 1
        end = block.find("\n", match.end())
        end = len(block) if end < 0 else end
        found.append(block[start:end])
        position = end + 1
    return found


def grep_blocks(text_blocks: Iterable[str], matcher: re.Pattern[str]) -> Iterator[str]:
    """Matching lines, each block's matches joined into one string ending in a newline."""
    for block in text_blocks:
        found = matching_lines(block, matcher)
        if found:
            yield "\n".join(found) + "\n"


def lines(text_blocks: Iterable[str]) -> Iterator[str]:
    for block in text_blocks:
        yield from block.splitlines()
