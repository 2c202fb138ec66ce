"""One stack on this server: its recipe, validated settings, state, secrets and plans.

This is where the pure parts (settings, network planning, rendering, file planning) meet
the inputs only the machine has (the disk, the engine, host routes).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackctl import secrets as secret_store
from stackctl.errors import SettingsError
from stackctl.files import FileChange, plan_files
from stackctl.names import StackNames
from stackctl.network import NetworkPlan, plan_network, read_host_routes
from stackctl.recipe import Recipe, all_recipes, get_recipe
from stackctl.render import StackInputs, base_context, evaluate, expand, images, render_stack
from stackctl.settings import Site, exposure_warning, stack_settings
from stackctl.site_check import check_ports_unshared
from stackctl.state import State, load_state, other_allocations

if TYPE_CHECKING:
    pass


@dataclass
class Stack:
    """One stack on this server: its recipe, the site, its settings and its state."""

    recipe: Recipe
    site: Site
    settings: dict[str, Any]
    state: State

    @property
    def name(self) -> str:
        return self.recipe.name

    @property
    def names(self) -> StackNames:
        return self.site.names(self.name)

    @property
    def dir(self) -> Path:
        return self.site.stack_dir(self.name)

    @property
    def data_dir(self) -> Path:
        return self.site.data_dir(self.name)

    def secrets(self) -> dict[str, str]:
        """The stack's .env values and the values it reads from other stacks."""
        own = secret_store.load(self.dir)
        if not self.recipe.reads:
            return own
        from stackctl.shared import read_values

        return {**own, **read_values(self.recipe, self.site)}

    def context(self) -> dict[str, Any]:
        return base_context(self.recipe, self.site, self.settings, self.state.facts)

    def images(self) -> dict[str, str]:
        return images(self.recipe, self.site, self.context())

    def published_ports(self) -> dict[str, int]:
        """Setting name -> host port, for the ports this stack publishes now."""
        context = self.context()
        return {
            field.name: self.settings[field.name]
            for field in self.recipe.settings
            if field.kind == "port" and field.publish and evaluate(self.recipe, field.when, context)
        }


def open_stack(name: str, site: Site) -> Stack:
    recipe = get_recipe(name)
    settings = stack_settings(site, name, recipe.settings, list(all_recipes()))
    stack = Stack(recipe, site, settings, load_state(site.stack_dir(name)))
    check_ports_distinct(stack)
    check_ports_unshared(stack)
    check_recipe_rules(stack)
    return stack


def failed_checks(stack: Stack, level: str) -> list[tuple[str, str]]:
    """(message, hint) of every recipe check of this level whose bad case holds."""
    context = stack.context()
    return [
        (expand(stack.recipe, c.message, context), expand(stack.recipe, c.hint, context))
        for c in stack.recipe.checks
        if c.level == level and evaluate(stack.recipe, c.when, context)
    ]


def check_recipe_rules(stack: Stack) -> None:
    """Settings the app cannot work with are refused before anything changes."""
    for message, hint in failed_checks(stack, "error"):
        raise SettingsError(f"stacks.{stack.name} in {stack.site.where()}: {message}", hint or None)


def stack_warnings(stack: Stack) -> tuple[str, ...]:
    """What plan and deploy say about settings that work but are risky or likely wrong."""
    exposed = exposure_warning(stack.name, stack.settings)
    found = [message for message, _ in failed_checks(stack, "warning")]
    return tuple([exposed, *found] if exposed else found)


def check_ports_distinct(stack: Stack) -> None:
    seen: dict[int, str] = {}
    for key, port in stack.published_ports().items():
        if port in seen:
            raise SettingsError(
                f"stacks.{stack.name}.{key} and stacks.{stack.name}.{seen[port]} both publish port {port} in {stack.site.where()}",
                "give each published port its own number",
            )
        seen[port] = key


def check_ports_free(stack: Stack, own_ports: set[int]) -> None:
    """A published port held by something other than this stack's containers is an error."""
    for key, port in stack.published_ports().items():
        if port in own_ports:
            continue
        address = stack.settings["bind_address"]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # like the servers that will bind it: connections in TIME_WAIT are no obstacle
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError:
                raise SettingsError(
                    f"port {port} (stacks.{stack.name}.{key}) is already in use on {address}",
                    f"stop what listens there (`ss -ltnp 'sport = :{port}'`) or set another {key} in {stack.site.where()}",
                ) from None


def taken_subnets(stack: Stack, docker_networks: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """Everything the stack's subnet must not overlap: other stacks, Docker networks, host routes."""
    taken = {
        f"stack {name}": subnet
        for name, subnet in other_allocations(Path(stack.site.stacks_root), stack.name).items()
    }
    own = stack.names.network
    own_subnets = set(docker_networks.get(own, ()))
    for name, subnets in docker_networks.items():
        if name != own:
            for subnet in subnets:
                taken[f"Docker network {name}"] = subnet
    known = set(taken.values()) | own_subnets
    for iface, route in read_host_routes():
        if route not in known:
            taken[f"host route on {iface}"] = route
    return taken


def network_plan(stack: Stack, docker_networks: Mapping[str, tuple[str, ...]]) -> NetworkPlan:
    return plan_network(
        stack.names.network,
        stack.recipe.network.fixed_ips,
        stack.site.subnet_pool,
        stack.site.subnet_prefix,
        taken_subnets(stack, docker_networks),
        persisted=stack.state.network or None,
        explicit=stack.settings.get("subnet"),
    )


def render_files(
    stack: Stack, network: NetworkPlan, secrets: Mapping[str, str]
) -> list[FileChange]:
    inputs = StackInputs(
        stack.recipe, stack.site, stack.settings, network, secrets, stack.state.facts
    )
    return plan_files(stack.dir, render_stack(inputs), stack.state.files, stack.state.pending)
