"""Network allocation: a stack's subnet is saved only once it was checked, and under the site lock.

Choosing a free subnet reads every other stack's state, so two commands allocating at
once could hand out the same range: the site lock makes plan-and-save one step. A
subnet planned without the engine (Docker networks unknown) is used for that run only and
never saved, so the next run with the engine can still choose freely.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from stackctl.locking import site_lock
from stackctl.network import NetworkPlan
from stackctl.stack import Stack, network_plan

if TYPE_CHECKING:
    from stackctl.engine import Engine


def docker_networks_or_none(engine: Engine | None) -> dict[str, tuple[str, ...]] | None:
    """Existing Docker networks by name, or None when no engine answers."""
    from stackctl.errors import EngineError

    if engine is None:
        return None
    try:
        return {n.name: n.subnets for n in engine.networks()}
    except EngineError:
        return None


def allocate_network(
    stack: Stack, docker_networks: Mapping[str, tuple[str, ...]] | None
) -> NetworkPlan:
    """The stack's network plan; saved in its state when it was checked against the engine.

    The caller holds the stack's lock (the stack's own state is current)."""
    if docker_networks is None:
        from stackctl import console

        plan = network_plan(stack, {})
        if plan.source != "state":
            console.warn(
                f"Docker engine not reachable: subnet {plan.subnet} of {stack.name} is not checked "
                "against Docker networks and not saved; render or deploy with the engine running to keep one"
            )
        return plan
    with site_lock(stack.site):
        plan = network_plan(stack, docker_networks)
        if stack.state.network != plan.as_state():
            stack.state.network = plan.as_state()
            stack.state.save()
    return plan
