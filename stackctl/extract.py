"""Extractors: named values read from a service's log (one-time codes, account ids)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from stackctl.recipe import Extractor


@dataclass(frozen=True)
class Found:
    """A value an extractor found in a log, with its line."""

    value: str
    groups: dict[str, str] = field(default_factory=dict)
    line: str = ""


@dataclass(frozen=True)
class CompiledPattern:
    """An extractor pattern compiled, and whether its value is on the next line."""

    regex: re.Pattern[str]
    next_line: re.Pattern[str] | None


def compile_extractor(extractor: Extractor) -> list[CompiledPattern]:
    return [
        CompiledPattern(re.compile(p.regex), re.compile(p.next_line) if p.next_line else None)
        for p in extractor.patterns
    ]


def scan(
    extractor: Extractor, log_lines: Iterable[str], argument: str | None = None
) -> Iterator[Found]:
    """Every match in order; with an argument, only those whose key group equals it."""
    patterns = compile_extractor(extractor)
    wanted = _norm(extractor, argument) if argument else None
    pending: list[tuple[CompiledPattern, re.Match[str], str]] = []
    seen: set[str] = set()
    for line in log_lines:
        # A pattern whose key is named on the next line completes here.
        if pending:
            for compiled, match, first in pending:
                follow = compiled.next_line.search(line) if compiled.next_line else None
                if follow:
                    groups = {**match.groupdict(), **follow.groupdict()}
                    found = _accept(extractor, groups, first, wanted, seen)
                    if found:
                        yield found
            pending = []
        for compiled in patterns:
            match = compiled.regex.search(line)
            if not match:
                continue
            if compiled.next_line is not None:
                pending.append((compiled, match, line))
                continue
            found = _accept(extractor, match.groupdict(), line, wanted, seen)
            if found:
                yield found


def _accept(
    extractor: Extractor, groups: dict[str, str], line: str, wanted: str | None, seen: set[str]
) -> Found | None:
    value = groups.get("value", "")
    if value in extractor.exclude:
        return None
    if wanted is not None and _norm(extractor, groups.get(extractor.argument, "")) != wanted:
        return None
    if extractor.distinct:
        if value in seen:
            return None
        seen.add(value)
    return Found(
        value, {k: v for k, v in groups.items() if k != "value" and v is not None}, line.strip()
    )


def _norm(extractor: Extractor, value: str) -> str:
    return value.strip().lower() if extractor.normalize == "lower" else value.strip()
