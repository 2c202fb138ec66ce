"""`stackctl deploy`: plan/write -> secrets -> network -> pull -> bootstrap -> up -> summary.

Every phase is idempotent, so an interrupted deploy is finished by running it again, and
a deploy of an unchanged stack changes nothing and says so. `dry_run` walks the same path
and stops before the first write.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from stackctl import console
from stackctl import secrets as secret_store
from stackctl.bootstrap import StepContext, StepResult, active_steps, run_steps
from stackctl.engine import Engine
from stackctl.errors import NetworkError
from stackctl.files import FileChange, apply_plan, refuse_conflicts
from stackctl.names import StackNames
from stackctl.network import NetworkPlan
from stackctl.proxy.install import ProxyPlan, plan_install
from stackctl.pull import pull_missing
from stackctl.stack import Stack, check_ports_free, network_plan, render_files


@dataclass
class DeployReport:
    stack: str
    dry_run: bool
    files: list[FileChange] = field(default_factory=list)
    secrets_created: tuple[str, ...] = ()
    network: NetworkPlan | None = None
    network_created: bool = False
    dirs_created: list[str] = field(default_factory=list)
    pulled: list[str] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    containers_changed: list[str] = field(default_factory=list)
    backups: list[str] = field(default_factory=list)
    proxy: list[ProxyPlan] = field(default_factory=list)

    def proxy_changes(self) -> list[tuple[Path, FileChange]]:
        return [(p.base, c) for p in self.proxy for c in p.changes]

    @property
    def changed(self) -> bool:
        return bool(
            [f for f in self.files if f.action != "identical"]
            or [c for _, c in self.proxy_changes() if c.action != "identical"]
            or self.secrets_created
            or self.network_created
            or self.dirs_created
            or self.pulled
            or [s for s in self.steps if s.outcome in ("changed", "done")]
            or self.containers_changed
        )


def ensure_network(engine: Engine, plan: NetworkPlan, names: StackNames) -> bool:
    """Create the stack network with its planned subnet; verify an existing one matches."""
    existing = engine.network(plan.name)
    if existing is None:
        engine.create_network(plan.name, plan.subnet, plan.gateway, plan.ip_range, names.labels)
        return True
    if plan.subnet not in existing.subnets:
        raise NetworkError(
            f"Docker network {plan.name} exists with subnet {', '.join(existing.subnets) or 'none'}, not the planned {plan.subnet}",
            f"stop the stack (`stackctl down {names.stack}`), remove it with `docker network rm {plan.name}`, and deploy again",
        )
    return False


def plan_proxy_install(stack: Stack) -> list[ProxyPlan]:
    """The proxy snippet at the server's own location, when that server is installed here."""
    from stackctl import proxy
    from stackctl.render import stack_vhosts

    if not stack.recipe.vhosts:
        return []
    vhosts = stack_vhosts(stack.recipe, stack.site, stack.settings, stack.state.facts)
    files = proxy.render(vhosts, stack.site.proxy, proxy.site_from(stack.site), stack.name)
    places = proxy.destinations(stack.site.proxy, stack.name, list(files))
    absolute = {
        k: v for k, v in places.items() if v.is_absolute()
    }  # IIS files stay in the stack folder
    return plan_install(
        {k: files[k] for k in absolute},
        absolute,
        Path(stack.site.proxy_root),
        stack.dir,
        stack.state.files,
        only_present=True,
    )


def ensure_dirs(stack: Stack) -> list[str]:
    created = []
    for name in stack.recipe.data_dirs:
        path = stack.data_dir / name
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            created.append(str(path))
    return created


def fingerprint(stack: Stack, engine: Engine, images: dict[str, str]) -> str:
    """What the running stack is made of: the rendered files, .env and the image ids."""
    digest = hashlib.sha256()
    for path in sorted(stack.state.files):
        digest.update(f"{path}={stack.state.files[path]}\n".encode())
    env = secret_store.env_path(stack.dir)
    digest.update(env.read_bytes() if env.exists() else b"")
    for service in sorted(images):
        digest.update(f"{service}={engine.image_id(images[service])}\n".encode())
    return digest.hexdigest()


def _running_as_planned(stack: Stack, engine: Engine, images: dict[str, str]) -> bool:
    containers = {c.service: c for c in engine.project_containers(stack.names.project)}
    for service in images:
        found = containers.get(service)
        if found is None or found.state != "running" or found.health in ("unhealthy", "starting"):
            return False
        if found.image_id != engine.image_id(images[service]):
            return False
    return set(containers) <= set(images)


def deploy(
    stack: Stack,
    engine: Engine,
    dry_run: bool = False,
    force: bool = False,
    wait_seconds: int = 300,
) -> DeployReport:
    report = DeployReport(stack.name, dry_run)

    docker_networks = {n.name: n.subnets for n in engine.networks()}
    report.network = network_plan(stack, docker_networks)
    secrets = stack.secrets()
    report.files = render_files(stack, report.network, secrets)
    check_ports_free(
        stack, {p for c in engine.project_containers(stack.names.project) for p in c.host_ports}
    )
    report.proxy = plan_proxy_install(stack)
    images = stack.images()
    if dry_run:
        report.secrets_created = secret_store.ensure(stack.recipe, stack.dir, dry_run=True).created
        report.network_created = stack.names.network not in docker_networks
        report.pulled = [ref for ref in images.values() if engine.image_id(ref) is None]
        return report

    # Refuse conflicts before anything is written, so a refused deploy loses nothing.
    if not force:
        refuse_conflicts(stack.dir, report.files)
        for plan in report.proxy:
            refuse_conflicts(plan.base, plan.changes)
    report.secrets_created = secret_store.ensure(stack.recipe, stack.dir).created
    if report.secrets_created:  # files holding secrets inline need the values just made
        report.files = render_files(stack, report.network, stack.secrets())
    report.backups = apply_plan(stack.dir, report.files, stack.state.files, force=force)
    for plan in report.proxy:
        report.backups += apply_plan(plan.base, plan.changes, stack.state.files, force=force)
    stack.state.network = report.network.as_state()
    stack.state.save()
    report.dirs_created = ensure_dirs(stack)

    console.step(f"network {report.network.name} ({report.network.subnet})")
    report.network_created = ensure_network(engine, report.network, stack.names)
    engine.compose_config(stack.dir, stack.names.project)
    report.pulled = pull_missing(engine, images)

    secrets = stack.secrets()
    context = StepContext(stack, engine, report.network, secrets)
    steps = active_steps(stack.recipe, stack.context())
    before = [s for s in steps if s.phase == "before-up"]
    after = [s for s in steps if s.phase == "after-up"]
    if before:
        # before-up steps name the services they need (a database, say): start only those
        needed = sorted({svc for step in before for svc in step.options.get("start", ())})
        if needed:
            with console.status(f"starting {', '.join(needed)} for the bootstrap"):
                engine.compose_up(
                    stack.dir, stack.names.project, services=needed, wait_seconds=wait_seconds
                )
        report.steps += run_steps(tuple(before), context, lambda s: console.step(s.title))

    current = fingerprint(stack, engine, images)
    if current == stack.state.deployed and _running_as_planned(stack, engine, images):
        console.step("containers already up to date")
    else:
        before_ids = {
            c.name: (c.id, c.state) for c in engine.project_containers(stack.names.project)
        }
        with console.status(f"starting {stack.name} and waiting until it is healthy"):
            engine.compose_up(stack.dir, stack.names.project, wait_seconds=wait_seconds)
        after_ids = {
            c.name: (c.id, c.state) for c in engine.project_containers(stack.names.project)
        }
        report.containers_changed = sorted(
            n for n in after_ids if before_ids.get(n) != after_ids[n]
        )
    if after:
        report.steps += run_steps(tuple(after), context, lambda s: console.step(s.title))
    stack.state.deployed = fingerprint(stack, engine, images)
    stack.state.save()
    return report


def stack_urls(stack: Stack) -> list[tuple[str, str]]:
    from stackctl.render import stack_vhosts

    return [
        (v.name, f"https://{v.hostname}/")
        for v in stack_vhosts(stack.recipe, stack.site, stack.settings, stack.state.facts)
    ]


def env_file(stack: Stack) -> Path:
    return secret_store.env_path(stack.dir)
