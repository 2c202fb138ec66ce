"""Free TCP ports for the servers and published ports the tests start.

A port from bind(("127.0.0.1", 0)) comes from the kernel's ephemeral range, which every
outgoing connection on the machine draws from too: between the pick and the server's own bind,
a connection of another process (or of another test run on the same machine) can take it, and
two picks in a row can return the same port. Ports outside that range are only ever taken by
an explicit bind, so a random free one stays free until our server binds it.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_random = random.SystemRandom()  # not the shared generator a test may seed
_given: set[int] = set()  # never the same port twice in one run


def _outside_ephemeral() -> list[int]:
    try:
        low, high = (int(n) for n in _EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return [p for p in range(10000, 65536) if not low <= p <= high]


def free_port() -> int:
    """A port nothing listens on or is connected from on 127.0.0.1, not handed out before."""
    candidates = _outside_ephemeral()
    for _ in range(500):
        port = _random.choice(candidates) if len(candidates) > 1000 else 0
        if port in _given:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            port = probe.getsockname()[1]
        if port not in _given:
            _given.add(port)
            return port
    raise RuntimeError("found no free port on 127.0.0.1")
