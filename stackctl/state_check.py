"""What a state.json may hold, checked every time one is read.

State is written by stackctl, but it is a file on disk: restored from an old backup, edited by
hand or cut short, its values would flow into compose files and host snippets. A value that
is not what stackctl itself would have written stops the command, naming the file.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any, NoReturn

from stackctl.errors import StackctlError
from stackctl.values import ValueProblem, subnet

_SAFE_TEXT = re.compile(r"^[^\x00-\x1f\x7f]*$")
_NETWORK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_MAX_DEPTH = 32


class StateError(StackctlError):
    """A state.json that cannot be trusted."""


def check_state(path: Path, data: Any) -> dict[str, Any]:
    """The parts of a parsed state.json, each checked; StateError names the file and key."""
    if not isinstance(data, dict):
        _fail(path, "", f"is a JSON {type(data).__name__}, not an object")
    unknown = set(data) - {"network", "files", "journal", "facts", "deployed"}
    if unknown:
        _fail(path, "", f"has unknown keys {', '.join(sorted(map(str, unknown)))}")
    network = _table(path, data, "network")
    if network:
        _check_network(path, network)
    files = _table(path, data, "files")
    for name, digest in files.items():
        if not _relative_path(name) or not isinstance(digest, str) or not digest.isalnum():
            _fail(path, "files", f"has an entry {name!r} that stackctl would not write")
    journal = _table(path, data, "journal")
    for step, entry in journal.items():
        if not isinstance(entry, dict):
            _fail(path, f"journal.{step}", "is not an object")
    facts = _table(path, data, "facts")
    _check_plain(path, "facts", facts, 0)
    _check_plain(path, "journal", journal, 0)
    deployed = data.get("deployed", "")
    if not isinstance(deployed, str) or not _SAFE_TEXT.fullmatch(deployed):
        _fail(path, "deployed", "is not a line of text")
    return {
        "network": network,
        "files": files,
        "journal": journal,
        "facts": facts,
        "deployed": deployed,
    }


def allocated_subnet(path: Path, data: Any) -> str | None:
    """The subnet a (checked) state gives its stack, if any."""
    network = check_state(path, data)["network"]
    return network.get("subnet") or None


def _check_network(path: Path, network: dict[str, Any]) -> None:
    name = network.get("name")
    if name is not None and (not isinstance(name, str) or not _NETWORK_NAME.fullmatch(name)):
        _fail(path, "network.name", f"{name!r} is not a network name")
    raw = network.get("subnet")
    if raw is None:
        if set(network) - {"name"}:
            _fail(path, "network", "has addresses but no subnet")
        return
    try:
        net = ipaddress.IPv4Network(subnet(raw))
    except ValueProblem as exc:
        _fail(path, "network.subnet", exc.problem, f"expected {exc.allowed}")
    for key in ("gateway",):
        if key in network:
            _address_in(path, f"network.{key}", network[key], net)
    if "ip_range" in network:
        try:
            inner = ipaddress.IPv4Network(str(network["ip_range"]))
        except ValueError:
            inner = None
        if inner is None or not inner.subnet_of(net):
            _fail(path, "network.ip_range", f"{network['ip_range']!r} is not inside {net}")
    ips = network.get("ips", {})
    if not isinstance(ips, dict):
        _fail(path, "network.ips", "is not an object")
    for service, address in ips.items():
        _address_in(path, f"network.ips.{service}", address, net)


def _address_in(path: Path, key: str, value: Any, net: ipaddress.IPv4Network) -> None:
    try:
        address = ipaddress.IPv4Address(str(value))
    except ValueError:
        _fail(path, key, f"{value!r} is not an IPv4 address")
    if address not in net:
        _fail(path, key, f"{address} is outside the stack's subnet {net}")


def _table(path: Path, data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        _fail(path, key, f"is a JSON {type(value).__name__}, not an object")
    return value


def _relative_path(name: Any) -> bool:
    if not isinstance(name, str) or not name or not _SAFE_TEXT.fullmatch(name):
        return False
    parts = Path(name).parts
    return not Path(name).is_absolute() and ".." not in parts


def _check_plain(path: Path, key: str, value: Any, depth: int) -> None:
    """Facts reach app configs: text without control characters, numbers, lists, objects."""
    if depth > _MAX_DEPTH:
        _fail(path, key, "nests too deeply")
    if isinstance(value, str):
        if not _SAFE_TEXT.fullmatch(value):
            _fail(path, key, f"{value[:40]!r} holds control characters")
    elif isinstance(value, list):
        for item in value:
            _check_plain(path, key, item, depth + 1)
    elif isinstance(value, dict):
        for name, item in value.items():
            _check_plain(path, f"{key}.{name}", item, depth + 1)
    elif value is not None and not isinstance(value, bool | int | float):
        _fail(path, key, f"holds a {type(value).__name__}")


def _fail(path: Path, key: str, problem: str, hint: str = "") -> NoReturn:
    raise StateError(
        f"stack state {path}: {key} {problem}" if key else f"stack state {path} {problem}",
        hint
        or "restore the stack folder from a backup, or move state.json aside to start over "
        "(the stack's subnet is kept only there)",
    )
