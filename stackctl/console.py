"""The one console: every line stackctl prints goes through here.

rich draws what is styled: colours on a terminal, tables that need wrapping, progress.
Loading it costs a third of `docker compose version`, so where rich would write plain text
anyway (stdout read by a pipe or a script), a line or a table is written here exactly as rich
would write it, and rich is loaded only when it draws something. Anything this module is not
sure to write as rich does (an escape, an emoji code, a control character, a cell wider than
one column) goes to rich.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console

    out: Console  # the rich consoles, made on first use (module __getattr__)
    err: Console

STYLES = {
    "ok": "green",
    "warn": "yellow",
    "error": "bold red",
    "hint": "cyan",
    "dim": "dim",
    "create": "green",
    "identical": "dim",
    "update": "yellow",
    "conflict": "bold red",
    "match": "bold magenta",
}

verbosity = 0


def __getattr__(name: str) -> Any:
    if name not in ("out", "err"):
        raise AttributeError(name)
    return _rich(stderr=name == "err")


def _rich(stderr: bool = False) -> Console:
    """The rich console for stdout or stderr, made on first use."""
    if "out" not in globals():
        from rich.console import Console
        from rich.theme import Theme

        theme = Theme(STYLES)
        made = {
            "out": Console(theme=theme, highlight=False, soft_wrap=True),
            "err": Console(theme=theme, highlight=False, stderr=True, soft_wrap=True),
        }
        globals().update(made)
    return globals()["err" if stderr else "out"]


# ---- markup (rich's syntax: [style]text[/], a literal "[" escaped as "\[") ----

_TAG_LIKE = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")


def escape(text: str) -> str:
    """Text shown as it is inside markup: whatever would read as a tag is escaped."""

    def escaped(match: re.Match[str]) -> str:
        backslashes, tag = match.groups()
        return backslashes * 2 + "\\" + tag  # each backslash kept, then the bracket escaped

    text = _TAG_LIKE.sub(escaped, text)
    if text.endswith("\\") and not text.endswith("\\\\"):
        text += "\\"  # a last lone backslash would escape what follows the text
    return text


_TAG = re.compile(r"\[([a-z#/@][^[]*?)]")
_UNSURE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\\]|:\S*?:")  # controls, escapes, :emoji:


def _plain_text(markup: str) -> str | None:
    """The text rich shows for the markup when it styles nothing; None when unsure."""
    if _UNSURE.search(markup):
        return None
    depth = 0
    for match in _TAG.finditer(markup):
        tag = match.group(1)
        if tag == "/":
            depth -= 1
        elif tag.startswith("/"):
            return None  # a named closing tag: rich checks it against the open ones
        else:
            depth += 1
        if depth < 0:
            return None
    return _TAG.sub("", markup)


# ---- where rich would write plain text ----


def _plain_stream(stream: TextIO) -> bool:
    """Whether rich would treat the stream as no terminal: then it writes no style at all."""
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "0"
    force = os.environ.get("FORCE_COLOR")
    if force is not None:
        return force == ""
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return True


def _write(markup: str, stderr: bool = False) -> None:
    stream = sys.stderr if stderr else sys.stdout
    text = _plain_text(markup) if _plain_stream(stream) else None
    if text is None:
        _rich(stderr).print(markup)
    else:
        stream.write(text + "\n")
        stream.flush()


# rich replaces an emoji code in text printed without markup too: a match of its pattern is
# unsure when its name, lowercased, is made only of characters rich's emoji names use
_EMOJI_CODE = re.compile(r"(:(\S*?)(?:(?:\-)(emoji|text))?:)")
_EMOJI_NAME = re.compile(r"[a-z0-9_!#&()*+.\-\u2019\xe3\xe5\xe7\xe9\xed\xf4]+")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # rich strips or expands these


def _plain_literal(text: str) -> bool:
    """Whether rich would write the text unchanged when it prints it without markup."""
    if _CONTROL.search(text):
        return False
    return not any(_EMOJI_NAME.fullmatch(m.group(2).lower()) for m in _EMOJI_CODE.finditer(text))


def literal(text: str, stderr: bool = False, end: str = "\n") -> None:
    """Text printed as it is, no markup read in it (a config file, a diff); tabs become
    spaces, to the next multiple of 8 columns, as rich prints them."""
    stream = sys.stderr if stderr else sys.stdout
    # in ASCII a character is a column, so str.expandtabs counts as rich does
    shown = text.expandtabs(8) if "\t" in text and text.isascii() else text
    if _plain_stream(stream) and _plain_literal(shown):
        stream.write(shown + end)
        stream.flush()
    else:
        _rich(stderr).print(text, markup=False, highlight=False, end=end)


def info(message: str) -> None:
    _write(message)


def ok(message: str) -> None:
    _write(f"[ok]✓[/] {escape(message)}")


def warn(message: str) -> None:
    _write(f"[warn]warning:[/] {escape(message)}", stderr=True)


def step(message: str) -> None:
    _write(f"[bold]→[/] {escape(message)}")


def debug(message: str) -> None:
    if verbosity > 0:
        _write(f"[dim]{escape(message)}[/]", stderr=True)


def error(message: str, hint: str | None = None) -> None:
    _write(f"[error]error:[/] {escape(message)}", stderr=True)
    if hint:
        _write(f"[hint]hint:[/] {escape(hint)}", stderr=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


@contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner on a terminal, a plain line otherwise."""
    if not _plain_stream(sys.stdout):
        with _rich().status(message):
            yield
    else:
        _write(f"… {escape(message)}")
        yield


# ---- tables ----


def table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    """A table when it fits the width (a terminal's, or $COLUMNS/80 in a pipe), else one
    record per row: nothing a user must read is ever cut to `…`."""
    drawn = _plain_table(title, columns, rows) if _plain_stream(sys.stdout) else None
    if drawn is not None:
        sys.stdout.write(drawn)
        sys.stdout.flush()
        return
    from rich.table import Table

    shown = Table(title=escape(title), title_justify="left")
    for column in columns:
        shown.add_column(column, overflow="fold")
    for row in rows:
        shown.add_row(*(escape(c) for c in row))
    rich = _rich()
    natural = rich.measure(shown, options=rich.options.update_width(100_000))
    if natural.maximum <= rich.width:
        rich.print(shown)
        return
    _records(title, columns, rows)


def _records(title: str, columns: list[str], rows: list[list[str]]) -> None:
    info(f"[bold]{escape(title)}[/]")
    for row in rows:
        info(f"  [bold]{escape(row[0])}[/]")
        for column, value in zip(columns[1:], row[1:], strict=True):
            if value:
                info(f"    {escape(column)}: {escape(value)}")


def _sure(text: str) -> bool:
    """Text rich shows as it is, one column a character: no markup, escape or emoji code."""
    return "[" not in text and not _UNSURE.search(text) and _one_column_each(text)


def _one_column_each(text: str) -> bool:
    """Every character printable and one terminal column wide, as rich counts it."""
    if text.isascii():
        return text.isprintable()
    import unicodedata

    return all(
        unicodedata.east_asian_width(c) in ("N", "Na", "H", "A")
        and unicodedata.category(c)[0] in "LNPS"
        for c in text
    )


def _width() -> int:
    """The width rich gives stdout: $COLUMNS, else the first standard stream that is a
    terminal, else 80."""
    if "out" in globals():  # rich is loaded: its width (which a caller may have set)
        return _rich().width
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit():
        return int(columns)
    for descriptor in (0, 1, 2):
        try:
            return os.get_terminal_size(descriptor).columns or 80
        except (AttributeError, ValueError, OSError):
            continue
    return 80


def _plain_table(title: str, columns: list[str], rows: list[list[str]]) -> str | None:
    """The table as rich draws it without styles (its heavy-head box), or the records when
    it does not fit; None when rich must draw it (markup, wide characters, no UTF-8)."""
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower()
    cells = [columns, *rows]
    if not encoding.startswith("utf") or not all(_sure(cell) for row in cells for cell in row):
        return None
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    total = sum(widths) + 3 * len(widths) + 1
    if total > _width():
        text: list[str] = [title]
        for row in rows:
            text.append(f"  {row[0]}")
            text.extend(f"    {c}: {v}" for c, v in zip(columns[1:], row[1:], strict=True) if v)
        return "".join(line + "\n" for line in text) if all(map(_sure, text)) else None
    if not _sure(title):  # a long title is not wrapped: the consoles soft-wrap
        return None

    def rule(left: str, fill: str, cross: str, right: str) -> str:
        return left + cross.join(fill * (w + 2) for w in widths) + right

    def line(row: list[str], bar: str) -> str:
        return bar + bar.join(f" {c.ljust(w)} " for c, w in zip(row, widths, strict=True)) + bar

    drawn = [title] if title else []
    drawn += [rule("┏", "━", "┳", "┓"), line(columns, "┃"), rule("┡", "━", "╇", "┩")]
    drawn += [line(row, "│") for row in rows]
    drawn.append(rule("└", "─", "┴", "┘"))
    return "".join(line + "\n" for line in drawn)
