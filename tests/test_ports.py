"""The test servers' ports come from outside the kernel's ephemeral range, never twice."""

import socket

from tests.ports import _outside_ephemeral, free_port


def test_free_ports_are_bindable_distinct_and_never_ephemeral():
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    allowed = set(_outside_ephemeral())
    assert all(p in allowed for p in ports)
    with socket.socket() as server:
        server.bind(("127.0.0.1", ports[-1]))  # still free: nothing was left bound
