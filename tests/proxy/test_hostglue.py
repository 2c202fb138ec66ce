"""Host glue lines from a network plan."""

from __future__ import annotations

import ipaddress

import pytest

from stackctl.errors import NetworkError
from stackctl.hostglue import sendmail_prefixes, snippets


def test_seed_layout():
    text = snippets("ente.lan", "172.21.0.0/24", "172.21.0.1", {"museum": "172.21.0.5"}, "ente")
    lines = text.splitlines()
    assert "172.21.0.5    ente-museum ente-museum.ente.lan" in lines
    assert "ente.lan      172.21.0" in lines
    assert "host-record=ente-museum.ente.lan,ente-museum,172.21.0.5" in lines
    assert "mynetworks = <current value> 172.21.0.0/24" in lines
    assert "172.21.0      RELAY" in lines
    assert lines[-2:] == ["apachectl -k graceful", "postfix reload"]


def test_sixteen_bit_network_and_custom_reloads():
    text = snippets("mstdn", "172.22.0.0/16", "172.22.0.1", {}, "mastodon", ["nginx -s reload"])
    assert [line.split() for line in text.splitlines() if "RELAY" in line] == [["172.22", "RELAY"]]
    assert "mstdn" in text and "(this stack has no fixed addresses)" in text
    assert text.rstrip().endswith("nginx -s reload")


@pytest.mark.parametrize(
    ("subnet", "count", "first"),
    [
        ("10.1.0.0/16", 1, "10.1"),
        ("10.1.16.0/20", 16, "10.1.16"),
        ("10.1.2.16/28", 16, "10.1.2.16"),
    ],
)
def test_sendmail_covers_exactly_the_subnet(subnet, count, first):
    prefixes = sendmail_prefixes(ipaddress.IPv4Network(subnet))
    assert len(prefixes) == count and prefixes[0] == first


@pytest.mark.parametrize(
    "args",
    [
        ("n", "172.21.0.0/24", "10.0.0.1", {}, "s"),
        ("n", "172.21.0.0/24", "172.21.0.1", {"web": "172.21.1.5"}, "s"),
        ("n", "172.21.0.1/24", "172.21.0.1", {}, "s"),
        ("bad name", "172.21.0.0/24", "172.21.0.1", {}, "s"),
        ("n", "172.21.0.0/24", "172.21.0.1", {"we b": "172.21.0.5"}, "s"),
        ("n", "172.21.0.0/24", "172.21.0.1", {}, "s\nx"),
    ],
)
def test_refuses_inconsistent_or_unsafe_plans(args):
    with pytest.raises(NetworkError):
        snippets(*args)
