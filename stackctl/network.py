"""Subnet planning: a free private range per stack, fixed IPs, persisted for reinstalls.

Pure functions over plain inputs (pool, routes, existing networks); the engine adapter and
/proc supply those inputs, so every rule here is unit-testable.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from stackctl.errors import NetworkError


@dataclass(frozen=True)
class NetworkPlan:
    """A stack's subnet, gateway, address range and fixed addresses, and where they came from."""

    name: str
    subnet: str
    gateway: str
    ip_range: str  # dynamic addresses come from here; fixed ones sit above it
    ips: Mapping[str, str]
    source: str  # "state", "settings" or "pool"

    def as_state(self) -> dict[str, object]:
        return {
            "name": self.name,
            "subnet": self.subnet,
            "gateway": self.gateway,
            "ip_range": self.ip_range,
            "ips": dict(self.ips),
        }


def host_routes(text: str) -> list[tuple[str, str]]:
    """Parse /proc/net/route into (interface, destination CIDR), skipping the default route."""
    routes = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 8:
            continue
        iface, dest_hex, mask_hex = parts[0], parts[1], parts[7]
        dest = ipaddress.IPv4Address(int.from_bytes(bytes.fromhex(dest_hex), "little"))
        mask = ipaddress.IPv4Address(int.from_bytes(bytes.fromhex(mask_hex), "little"))
        if int(mask) == 0:
            continue
        routes.append((iface, str(ipaddress.IPv4Network(f"{dest}/{mask}", strict=False))))
    return routes


def read_host_routes(path: Path = Path("/proc/net/route")) -> list[tuple[str, str]]:
    try:
        return host_routes(path.read_text())
    except OSError:
        return []


def layout(name: str, subnet: str, fixed: Mapping[str, int], source: str) -> NetworkPlan:
    """Gateway is the first address; the lower half is dynamic, fixed IPs live in the upper half."""
    net = ipaddress.IPv4Network(subnet)
    halves = list(net.subnets(prefixlen_diff=1))
    upper = halves[1]
    ips = {}
    for service, offset in fixed.items():
        address = upper.network_address + offset
        if address not in upper or address == upper.broadcast_address or offset < 1:
            raise NetworkError(
                f"fixed address offset {offset} for {service} does not fit in {subnet}",
                "use a larger subnet_prefix",
            )
        ips[service] = str(address)
    return NetworkPlan(name, str(net), str(net.network_address + 1), str(halves[0]), ips, source)


def _overlap(subnet: str, taken: Mapping[str, str]) -> str | None:
    net = ipaddress.IPv4Network(subnet)
    for owner, other in taken.items():
        if net.overlaps(ipaddress.IPv4Network(other)):
            return f"{other} ({owner})"
    return None


def plan_network(
    name: str,
    fixed: Mapping[str, int],
    pool: Iterable[str],
    prefix: int,
    taken: Mapping[str, str],
    persisted: Mapping[str, object] | None = None,
    explicit: str | None = None,
) -> NetworkPlan:
    """Pick the stack's subnet.

    `taken` maps a description (another stack, a Docker network, a host route) to a subnet
    that must not be overlapped; the stack's own existing network must not be in it.
    Order: explicit setting, then the persisted allocation, then the first free block of the pool.
    """
    if explicit:
        clash = _overlap(explicit, taken)
        if clash:
            raise NetworkError(
                f"subnet {explicit} for {name} overlaps {clash}",
                "pick another [stacks.<name>] subnet, or remove the setting to let stackctl choose",
            )
        if persisted and persisted.get("subnet") not in (None, explicit):
            raise NetworkError(
                f"subnet {explicit} in settings differs from the allocated {persisted['subnet']} for {name}",
                "the network is fixed once created; take the stack down and remove the network, or drop the setting",
            )
        return _with_persisted_ips(layout(name, explicit, fixed, "settings"), persisted)
    if persisted and persisted.get("subnet"):
        subnet = str(persisted["subnet"])
        clash = _overlap(subnet, taken)
        if clash:
            raise NetworkError(
                f"the allocated subnet {subnet} of {name} now overlaps {clash}",
                "remove what overlaps, or set an explicit subnet for this stack",
            )
        return _with_persisted_ips(layout(name, subnet, fixed, "state"), persisted)
    for block in pool:
        for candidate in (
            ipaddress.IPv4Network(block).subnets(new_prefix=prefix)
            if prefix >= ipaddress.IPv4Network(block).prefixlen
            else ()
        ):
            if not _overlap(str(candidate), taken):
                return layout(name, str(candidate), fixed, "pool")
    raise NetworkError(
        f"no free /{prefix} left in subnet_pool {', '.join(pool)} for {name}",
        "add a range to subnet_pool or lower subnet_prefix in stackctl.toml",
    )


def _with_persisted_ips(plan: NetworkPlan, persisted: Mapping[str, object] | None) -> NetworkPlan:
    """Keep addresses handed out earlier: a mail relay or /etc/hosts may already trust them."""
    old = dict(persisted.get("ips", {})) if persisted else {}
    if not old or persisted.get("subnet") != plan.subnet:
        return plan
    net = ipaddress.IPv4Network(plan.subnet)
    ips = {
        s: (old[s] if s in old and ipaddress.IPv4Address(old[s]) in net else ip)
        for s, ip in plan.ips.items()
    }
    return NetworkPlan(plan.name, plan.subnet, plan.gateway, plan.ip_range, ips, plan.source)
