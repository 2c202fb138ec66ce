"""Typed setting values: one validator per kind, shared by site and recipe settings.

Every value that can end up in a compose file, an app config or a proxy snippet passes
through here first, so nothing can change the meaning of a rendered file.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stackctl import registry

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")
_SAFE_TEXT = re.compile(r"^[^\x00-\x1f\x7f]*$")
_IMAGE = re.compile(r"^[a-z0-9]+(?:[._\-/:@][A-Za-z0-9._\-]+)*$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$")


# RFC 1918: what "private" means for a network stackctl creates (not loopback, link-local, ...)
PRIVATE_BLOCKS = tuple(
    ipaddress.IPv4Network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
SUBNET_PREFIXES = (16, 28)


class ValueProblem(ValueError):
    """Why a value was refused, and what would be accepted."""

    def __init__(self, problem: str, allowed: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.allowed = allowed


def hostname(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueProblem(f"{value!r} is not a hostname", "a DNS name such as cloud.example.org")
    name = value.strip().rstrip(".")
    if name != value.rstrip("."):
        raise ValueProblem(f"{value!r} has surrounding spaces", "a DNS name without spaces")
    _refuse_invisible(value)
    if _is_ip_address(name):
        raise ValueProblem(
            f"{value!r} is an IP address, not a name", "a DNS name such as cloud.example.org"
        )
    try:
        # Non-ASCII names are rendered as their IDNA A-label, which is what DNS and SNI carry.
        name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError as exc:
        raise ValueProblem(
            f"{value!r} is not a valid internationalised name", "a DNS name"
        ) from exc
    name = name.lower()
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueProblem(
            f"{value!r} is not a valid hostname",
            "letters, digits and hyphens in dot-separated labels of 1-63 characters",
        )
    return name


def _refuse_invisible(value: str) -> None:
    """IDNA would silently drop a zero-width character: the name would not be what was written."""
    import unicodedata

    for char in value:
        if unicodedata.category(char) in ("Cc", "Cf", "Co", "Cn", "Zl", "Zp", "Zs"):
            raise ValueProblem(
                f"{value!r} holds an invisible or control character (U+{ord(char):04X})",
                "retype the name; copied text can carry zero-width characters",
            )


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return all(label.isdigit() for label in name.split("."))  # 10.1 is an address to resolvers
    return True


def host(value: Any) -> str:
    """A DNS name or an IPv4 address: a server the apps connect to, e.g. a mail relay."""
    if isinstance(value, str) and re.fullmatch(r"[\d.]+", value):
        return ipv4(value)
    return hostname(value)


def port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueProblem(f"{value!r} is not a TCP port", "a whole number from 1 to 65535")
    return value


def integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueProblem(f"{value!r} is not a whole number", "a whole number")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueProblem(f"{value!r} is not true or false", "true or false (no quotes)")
    return value


def text(value: Any) -> str:
    if not isinstance(value, str) or not _SAFE_TEXT.fullmatch(value):
        raise ValueProblem(
            f"{value!r} is not a single line of text", "text without control characters"
        )
    return value


def word(value: Any) -> str:
    """A token safe everywhere unquoted: names, users, database names."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]{0,62}", value):
        raise ValueProblem(
            f"{value!r} is not a plain name", "letters, digits, '_' and '-', starting with a letter"
        )
    return value


def email(value: Any) -> str:
    if not isinstance(value, str) or not _EMAIL.fullmatch(value.strip()):
        raise ValueProblem(
            f"{value!r} is not an email address", "an address such as me@example.org"
        )
    return value.strip().lower()


def path(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/") or not _SAFE_TEXT.fullmatch(value):
        raise ValueProblem(
            f"{value!r} is not an absolute path", "an absolute path such as /opt/data"
        )
    if any(c in value for c in " \"'$`\\;:"):
        raise ValueProblem(
            f"{value!r} contains characters that break configs",
            "a path without spaces, quotes, ':', '$', '`', '\\' or ';'",
        )
    return value.rstrip("/") or "/"


def path_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueProblem(f"{value!r} is not a list of paths", '["/etc/stackctl/recipes"]')
    return [path(item) for item in value]


def cidr(value: Any) -> str:
    try:
        net = ipaddress.IPv4Network(str(value), strict=True)
    except ValueError as exc:
        raise ValueProblem(
            f"{value!r} is not an IPv4 subnet ({exc})", "a subnet such as 172.21.0.0/24"
        ) from exc
    if not any(net.subnet_of(block) for block in PRIVATE_BLOCKS):
        raise ValueProblem(
            f"{value} is not a private range",
            "a subnet inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16",
        )
    return str(net)


def subnet(value: Any) -> str:
    """A stack network: a private range with room for a gateway, dynamic and fixed addresses."""
    checked = cidr(value)
    prefix = ipaddress.IPv4Network(checked).prefixlen
    if not SUBNET_PREFIXES[0] <= prefix <= SUBNET_PREFIXES[1]:
        raise ValueProblem(
            f"{value} is a /{prefix}: too {'small' if prefix > 28 else 'large'} for a stack network",
            "a /16 to /28 subnet such as 172.21.5.0/24",
        )
    return checked


def cidr_list(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ValueProblem(
            f"{value!r} is not a list of subnets", 'a subnet or a list, e.g. ["172.21.0.0/16"]'
        )
    return [cidr(item) for item in items]


def ipv4(value: Any) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError as exc:
        raise ValueProblem(
            f"{value!r} is not an IPv4 address", "an address such as 172.21.0.5"
        ) from exc


def image(value: Any) -> str:
    if not isinstance(value, str) or not _IMAGE.fullmatch(value):
        raise ValueProblem(
            f"{value!r} is not an image reference", "an image such as registry.lan/team/server:tag"
        )
    return value


def version(value: Any) -> str:
    if not isinstance(value, str) or not _VERSION.fullmatch(value):
        raise ValueProblem(f"{value!r} is not an image tag", "a tag such as 15 or v4.7.2")
    return value


def int_list(value: Any) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ValueProblem(
            f"{value!r} is not a list of whole numbers", "a list such as [1580559962386438]"
        )
    return list(value)


def hostname_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueProblem(
            f"{value!r} is not a list of hostnames", '["a.example.org", "b.example.org"]'
        )
    return [hostname(item) for item in value]


def text_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueProblem(f"{value!r} is not a list", 'a list such as ["a", "b"]')
    return [text(item) for item in value]


def origin_list(value: Any) -> list[str]:
    """Web origins ("https://cloud.example.org", "http://10.0.0.5:8080"), as scheme://host:port."""
    if not isinstance(value, list):
        raise ValueProblem(f"{value!r} is not a list", '["https://cloud.example.org"]')
    found = []
    for item in value:
        match = (
            re.fullmatch(r"(https?)://([^/:\s]+)(?::(\d{1,5}))?/?", item)
            if isinstance(item, str)
            else None
        )
        if not match:
            raise ValueProblem(
                f"{item!r} is not a web origin",
                "scheme, host and optional port, no path: https://cloud.example.org",
            )
        scheme, host, number = match.groups()
        try:
            host = ipv4(host) if re.fullmatch(r"[\d.]+", host) else hostname(host)
        except ValueProblem as exc:
            raise ValueProblem(f"{item!r}: {exc.problem}", exc.allowed) from None
        default = 443 if scheme == "https" else 80
        found.append(f"{scheme}://{host}:{port(int(number)) if number else default}")
    return found


KINDS: registry.Registry[Callable[[Any], Any]] = registry.Registry(
    {
        "hostname": hostname,
        "host": host,
        "hostnames": hostname_list,
        "port": port,
        "int": integer,
        "bool": boolean,
        "text": text,
        "word": word,
        "email": email,
        "path": path,
        "paths": path_list,
        "cidr": cidr,
        "subnet": subnet,
        "cidrs": cidr_list,
        "ipv4": ipv4,
        "image": image,
        "version": version,
        "ints": int_list,
        "texts": text_list,
        "origins": origin_list,
    }
)


def value_kind(name: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Register a setting kind; recipe modules add their own (e.g. a list of app-specific tables)."""
    return registry.decorator(KINDS, "value kind", name)


@dataclass(frozen=True)
class Field:
    """One setting: its kind, default and the sentence that explains it."""

    name: str
    kind: str
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()
    optional: bool = False
    when: str = ""  # recipe port settings: published only when this expression holds
    publish: bool = True  # recipe port settings: a host port stackctl publishes

    def check(self, value: Any) -> Any:
        if value is None and self.optional:
            return None
        if self.choices:  # of a list kind, each item is one of the choices
            checked = KINDS[self.kind](value)
            for item in checked if isinstance(checked, list) else [checked]:
                if item not in self.choices:
                    raise ValueProblem(
                        f"{item!r} is not allowed", "one of: " + ", ".join(self.choices)
                    )
            return checked
        return KINDS[self.kind](value)

    def allowed(self) -> str:
        if self.choices:
            return "one of: " + ", ".join(self.choices)
        return self.kind
