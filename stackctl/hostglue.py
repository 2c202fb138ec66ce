"""Host glue for a stack's fixed addresses: name resolution, mail relaying, renewal hooks.

A pure function of the network plan. Containers with fixed IPs send mail through the host's
MTA, which must resolve and trust them; these are the lines to add, never applied by stackctl.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence

from stackctl.errors import NetworkError
from stackctl.names import stack_names

_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$")
DEFAULT_RELOADS = ("apachectl -k graceful", "postfix reload")


def _name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value.lower()):
        raise NetworkError(
            f"{what} {value!r} cannot be written as a host name", "a-z, 0-9, - and ."
        )
    return value.lower()


def _octets(net: ipaddress.IPv4Network, count: int) -> str:
    return ".".join(str(net.network_address).split(".")[:count])


def sendmail_prefixes(net: ipaddress.IPv4Network) -> list[str]:
    """Sendmail's access map matches whole octets: cover the subnet exactly, never more."""
    if net.prefixlen % 8 == 0:
        return [_octets(net, net.prefixlen // 8)]
    aligned = (net.prefixlen // 8 + 1) * 8
    return [_octets(part, aligned // 8) for part in net.subnets(new_prefix=aligned)]


def snippets(
    network_name: str,
    subnet: str,
    gateway: str,
    ips: Mapping[str, str],
    stack: str,
    reloads: Sequence[str] = DEFAULT_RELOADS,
    prefix: str = "",
) -> str:
    try:
        net = ipaddress.IPv4Network(subnet, strict=True)
        gw = ipaddress.IPv4Address(gateway)
        addresses = {service: ipaddress.IPv4Address(ip) for service, ip in ips.items()}
    except ValueError as exc:
        raise NetworkError(f"network plan of {stack} is not valid: {exc}") from None
    for service, address in {"gateway": gw, **addresses}.items():
        if address not in net:
            raise NetworkError(f"{service} address {address} is outside {net}")
    network = _name(network_name, "network name")
    stack = _name(stack, "stack name")
    containers = {
        s: stack_names(stack, prefix).container(_name(s, "service name")) for s in addresses
    }
    names = {service: (short, f"{short}.{network}") for service, short in containers.items()}
    width = max((len(str(a)) for a in addresses.values()), default=7) + 4
    lines = [
        f"# stackctl {stack}: host glue for network {network} ({net}, gateway {gw}).",
        "# Add these lines by hand; stackctl never edits system files.",
        "",
        "## /etc/hosts: names for the fixed container addresses",
    ]
    lines += [
        f"{str(addresses[s]).ljust(width)}{short} {fqdn}" for s, (short, fqdn) in names.items()
    ]
    if not addresses:
        lines.append("# (this stack has no fixed addresses)")
    network_number = _octets(net, max(1, -(-net.prefixlen // 8)))
    lines += [
        "",
        "## /etc/networks: a name for the subnet",
        f"{network.ljust(width)}{network_number}",
        "",
        "## dnsmasq answers from /etc/hosts and /etc/networks; reload it after editing them",
        "# (systemctl reload dnsmasq, or send it SIGHUP). Or, without touching /etc/hosts,",
        f"# /etc/dnsmasq.d/stackctl-{stack}.conf:",
    ]
    lines += [f"host-record={fqdn},{short},{addresses[s]}" for s, (short, fqdn) in names.items()]
    lines += [
        "",
        "## Postfix: let the stack's subnet relay through the host (containers reach it at",
        f"## {gw}). Append to mynetworks in /etc/postfix/main.cf, then `postfix reload`:",
        f"mynetworks = <current value> {net}",
        "",
        "## Sendmail: /etc/mail/access (then makemap hash /etc/mail/access.db < /etc/mail/access)",
    ]
    lines += [f"{prefix.ljust(width)}RELAY" for prefix in sendmail_prefixes(net)]
    lines += [
        "",
        "## Certificate renewal: run after each renewal (dehydrated hook.sh deploy_cert(),",
        "## or certbot --deploy-hook) so the proxy and the MTA load the new certificate",
        *reloads,
    ]
    return "\n".join(lines) + "\n"
