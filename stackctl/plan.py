"""Everything a deploy would do to one stack, as one value: `plan_stack(stack, engine)`.

The plan reads the disk and asks the engine, but changes nothing. `stackctl plan`,
`deploy --dry-run`, `render`, `deploy` and the deploy summary all read the same value;
`stackctl.apply.apply(plan)` is the one place that writes it. Without an engine the plan
still holds every file and secret; what only the engine knows (existing networks,
missing images) is None, shown as unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from stackctl import secrets as secret_store
from stackctl.bootstrap import active_steps
from stackctl.files import FileChange
from stackctl.network import NetworkPlan
from stackctl.proxy.install import ProxyPlan, plan_install
from stackctl.recipe import Step
from stackctl.render import stack_vhosts
from stackctl.stack import Stack, network_plan, render_files

if TYPE_CHECKING:
    from stackctl.engine import Engine
    from stackctl.proxy.model import VirtualHost


@dataclass(frozen=True)
class StackPlan:
    stack: Stack
    network: NetworkPlan
    docker_networks: dict[str, tuple[str, ...]] | None  # None: no engine answered
    files: list[FileChange]  # in the stack folder
    proxy: list[ProxyPlan]  # the proxy config installed where the server reads it
    vhosts: list[VirtualHost]
    images: dict[str, str]  # service -> image reference
    image_ids: dict[str, str | None] | None  # reference -> local id (None: not present)
    dirs: tuple[Path, ...]  # data folders to create
    active_steps: tuple[Step, ...]  # the bootstrap steps whose `when` holds
    steps: tuple[Step, ...]  # those a deploy would run (not done earlier, or `always`)
    # every value the files are rendered with; the new ones are written by apply
    secrets: dict[str, str] = field(repr=False)
    new_secrets: dict[str, str] = field(repr=False)

    @property
    def engine_known(self) -> bool:
        return self.docker_networks is not None

    @property
    def network_exists(self) -> bool | None:
        if self.docker_networks is None:
            return None
        return self.network.name in self.docker_networks

    @property
    def missing_images(self) -> tuple[str, ...] | None:
        if self.image_ids is None:
            return None
        return tuple(ref for ref, found in self.image_ids.items() if found is None)

    @property
    def secrets_created(self) -> tuple[str, ...]:
        return tuple(self.new_secrets)

    def file_groups(self) -> list[tuple[Path, list[FileChange]]]:
        """(folder, changes) in writing order: the stack folder, then the proxy config."""
        return [(self.stack.dir, self.files), *((p.base, p.changes) for p in self.proxy)]

    def all_files(self) -> list[tuple[Path, FileChange]]:
        return [(base, change) for base, changes in self.file_groups() for change in changes]

    def files_changed(self) -> bool:
        return any(c.action != "identical" for _, c in self.all_files())

    def changes_anything(self) -> bool:
        """Whether writing this plan changes the disk or the engine (unknowns count as no)."""
        return bool(
            self.files_changed()
            or self.new_secrets
            or self.dirs
            or self.network_exists is False
            or self.missing_images
        )


def plan_stack(stack: Stack, engine: Engine | None) -> StackPlan:
    """Read once, render once: the stack's whole plan. `engine=None` plans without one."""
    from stackctl.allocate import docker_networks_or_none

    docker_networks = docker_networks_or_none(engine)
    network = network_plan(stack, docker_networks or {})
    have = secret_store.load(stack.dir)
    new_secrets = secret_store.new_values(stack.recipe, have)
    secrets = {**have, **new_secrets}
    if stack.recipe.reads:  # values this stack reads from the stacks that publish them
        from stackctl.shared import read_values

        secrets.update(read_values(stack.recipe, stack.site))
    vhosts = stack_vhosts(stack.recipe, stack.site, stack.settings, stack.state.facts)
    images = stack.images()
    active = active_steps(stack.recipe, stack.context())
    image_ids = None
    if engine is not None and docker_networks is not None:
        image_ids = {ref: engine.image_id(ref) for ref in dict.fromkeys(images.values())}
    return StackPlan(
        stack=stack,
        network=network,
        docker_networks=docker_networks,
        files=render_files(stack, network, secrets),
        proxy=_proxy_install(stack, vhosts),
        vhosts=vhosts,
        images=images,
        image_ids=image_ids,
        dirs=tuple(
            stack.data_dir / name
            for name in stack.recipe.data_dirs
            if not (stack.data_dir / name).is_dir()
        ),
        active_steps=active,
        steps=tuple(
            step
            for step in active
            if step.always or stack.state.journal.get(step.id, {}).get("status") != "done"
        ),
        secrets=secrets,
        new_secrets=new_secrets,
    )


def _proxy_install(stack: Stack, vhosts: list[VirtualHost]) -> list[ProxyPlan]:
    """The proxy config at the server's own location, when that server is installed here."""
    from stackctl import proxy

    if not vhosts:
        return []
    files = proxy.render(vhosts, stack.site.proxy, proxy.site_from(stack.site), stack.name)
    places = proxy.destinations(stack.site.proxy, stack.name, list(files))
    # IIS files stay in the stack folder, for copying to the Windows host
    absolute = {k: v for k, v in places.items() if v.is_absolute()}
    return plan_install(
        {k: files[k] for k in absolute},
        absolute,
        Path(stack.site.proxy_root),
        stack.dir,
        stack.state.files,
        only_present=True,
        pending=stack.state.pending,
    )
