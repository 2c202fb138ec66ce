"""Typed options for step and action kinds: what a kind takes, checked when a recipe loads.

A kind declares `{"service": required(str), "argv": required(list), "user": optional(str)}`;
a recipe that gives an unknown key, leaves out a required one or gives the wrong TOML type is
refused at load, naming the key, instead of failing halfway through a deploy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_TOML_TYPES = {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}
_TOML_TYPES |= {list: "a list", dict: "a table"}


@dataclass(frozen=True)
class Option:
    """A typed option of a step or action kind, and whether it is required."""

    types: tuple[type, ...]
    required: bool = False

    def describe(self) -> str:
        return " or ".join(_TOML_TYPES.get(t, t.__name__) for t in self.types)

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) and bool not in self.types:
            return False  # TOML true is not a number
        return isinstance(value, self.types)


def required(*types: type) -> Option:
    return Option(types, required=True)


def optional(*types: type) -> Option:
    return Option(types)


Schema = Mapping[str, Option]


def problems(options: Mapping[str, Any], schema: Schema) -> list[tuple[str, str]]:
    """(key, problem) for every option that does not fit the schema."""
    found = []
    for key, value in options.items():
        if key not in schema:
            allowed = ", ".join(sorted(schema)) or "none"
            found.append((key, f"unknown option (this kind takes: {allowed})"))
        elif not schema[key].accepts(value):
            found.append((key, f"must be {schema[key].describe()}, not {value!r}"))
    for key, option in schema.items():
        if option.required and key not in options:
            found.append((key, "is required"))
    return found
