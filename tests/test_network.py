"""Network planning on recorded /proc/net/route and docker network output."""

import ipaddress
import json

import pytest

from stackctl.docker_engine import _network_info
from stackctl.errors import NetworkError
from stackctl.network import host_routes, layout, plan_network
from stackctl.state import other_allocations

from .conftest import DATA


def test_parses_recorded_proc_net_route():
    routes = host_routes((DATA / "proc-net-route.txt").read_text())
    assert ("docker0", "172.17.0.0/16") in routes
    assert all(dest != "0.0.0.0/0" for _, dest in routes)


def test_parses_recorded_docker_network_inspect():
    info = _network_info(json.loads((DATA / "docker-network-inspect-bridge.json").read_text())[0])
    assert info.name == "bridge" and info.subnets == ("172.17.0.0/16",)


def test_layout_puts_fixed_ips_above_the_dynamic_range():
    plan = layout("ente.lan", "172.21.0.0/24", {"museum": 5}, "pool")
    assert plan.gateway == "172.21.0.1"
    assert plan.ip_range == "172.21.0.0/25"
    assert plan.ips == {"museum": "172.21.0.133"}
    assert ipaddress.IPv4Address(plan.ips["museum"]) not in ipaddress.IPv4Network(plan.ip_range)


def test_first_free_block_skips_everything_taken():
    taken = {
        "host route on eth0": "172.21.0.0/24",
        "Docker network x": "172.21.1.0/25",
        "stack mastodon": "172.21.2.0/24",
    }
    plan = plan_network("ente.lan", {"museum": 5}, ["172.21.0.0/16"], 24, taken)
    assert plan.subnet == "172.21.3.0/24" and plan.source == "pool"


def test_persisted_allocation_is_reused_and_its_ips_kept():
    persisted = {"subnet": "172.21.9.0/24", "ips": {"museum": "172.21.9.200"}}
    plan = plan_network("ente.lan", {"museum": 5}, ["172.21.0.0/16"], 24, {}, persisted=persisted)
    assert (plan.subnet, plan.ips["museum"], plan.source) == (
        "172.21.9.0/24",
        "172.21.9.200",
        "state",
    )


def test_explicit_subnet_is_checked_for_overlaps():
    with pytest.raises(NetworkError, match="overlaps 172.21.0.0/16 .Docker network"):
        plan_network(
            "ente.lan",
            {},
            ["10.0.0.0/16"],
            24,
            {"Docker network other": "172.21.0.0/16"},
            explicit="172.21.5.0/24",
        )
    plan = plan_network(
        "ente.lan", {"museum": 5}, ["10.0.0.0/16"], 24, {}, explicit="192.168.77.0/24"
    )
    assert plan.ips["museum"] == "192.168.77.133" and plan.source == "settings"


def test_explicit_subnet_cannot_silently_move_an_allocated_network():
    with pytest.raises(NetworkError, match="differs from the allocated"):
        plan_network(
            "ente.lan",
            {},
            ["10.0.0.0/16"],
            24,
            {},
            persisted={"subnet": "10.0.0.0/24"},
            explicit="10.0.1.0/24",
        )


def test_pool_exhausted():
    with pytest.raises(NetworkError, match="no free /24"):
        plan_network("ente.lan", {}, ["10.9.0.0/23"], 24, {"a": "10.9.0.0/24", "b": "10.9.1.0/24"})


def _stack_folder(root, folder: str, network: dict) -> None:
    state = root / folder / ".stackctl" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"network": network}))


def test_copies_of_a_stack_folder_hold_no_subnet(tmp_path):
    """Editor, backup and hand-made copies of docker-ente are no stacks: counting them made
    ente's own subnet look taken by another stack."""
    ente = {"name": "t1-ente.lan", "subnet": "10.213.1.0/24"}
    for folder in ("docker-ente", "docker-ente~", "docker-ente.bak", "docker-ente copy"):
        _stack_folder(tmp_path, folder, ente)
    _stack_folder(tmp_path, "docker-ente-old", ente)  # a name a stack could have
    _stack_folder(tmp_path, "docker-mas", {"name": "t1-mas.lan", "subnet": "10.213.2.0/24"})
    _stack_folder(tmp_path, "docker-wbo", {"subnet": "10.213.3.0/24"})  # no name recorded
    (tmp_path / "docker-ente.swp").write_text("")
    assert other_allocations(tmp_path, "ente") == {"mas": "10.213.2.0/24", "wbo": "10.213.3.0/24"}
    assert other_allocations(tmp_path, "mas") == {"ente": "10.213.1.0/24", "wbo": "10.213.3.0/24"}
