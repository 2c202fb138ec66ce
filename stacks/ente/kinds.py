"""Ente's own setting kind: the hard-coded one-time codes museum accepts for chosen emails."""

from __future__ import annotations

import re
from typing import Any

from stackctl.values import ValueProblem, email, value_kind

_OTT = re.compile(r"^\d{6}$")


@value_kind("ott_entries")
def ott_entries(value: Any) -> list[str]:
    """Ente hard-coded OTTs: "email,code" entries, matched by museum in lower case."""
    if not isinstance(value, list):
        raise ValueProblem(f"{value!r} is not a list", 'a list such as ["me@home.lan,123456"]')
    entries = []
    for item in value:
        if not isinstance(item, str) or item.count(",") != 1:
            raise ValueProblem(f"{item!r} is not an 'email,code' entry", '"me@home.lan,123456"')
        address, code = item.split(",")
        if not _OTT.fullmatch(code.strip()):
            raise ValueProblem(f"{item!r} has a code that is not 6 digits", '"me@home.lan,123456"')
        entries.append(f"{email(address)},{code.strip()}")
    return entries
