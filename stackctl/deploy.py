"""`stackctl deploy`: the engine half of a deploy, after `apply(plan)` wrote the disk half.

plan -> apply (secrets, files, state) -> network -> validate -> pull -> bootstrap -> up.
Every phase is idempotent, so an interrupted deploy is finished by running it again, and
a deploy of an unchanged stack changes nothing and says so. A dry run is the plan itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from stackctl import console
from stackctl.apply import apply
from stackctl.backup.pg_major import refuse_major_changes
from stackctl.bootstrap import StepContext, StepResult, run_steps
from stackctl.engine import ENGINE_HINT, Engine
from stackctl.errors import EngineError, NetworkError
from stackctl.names import StackNames
from stackctl.network import NetworkPlan
from stackctl.plan import StackPlan
from stackctl.pull import pull_missing
from stackctl.settled import record_settled, settled_key, skippable
from stackctl.stack import check_ports_free


@dataclass
class DeployReport:
    """What a deploy did to one stack, read by the summary."""

    plan: StackPlan
    dry_run: bool
    network_created: bool | None = False  # None: unknown (a dry run without an engine)
    dirs_created: list[str] = field(default_factory=list)
    pulled: list[str] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    containers_changed: list[str] = field(default_factory=list)
    backups: list[str] = field(default_factory=list)
    dumps_loaded: list[str] = field(default_factory=list)
    objects_put: dict[str, int] = field(default_factory=dict)  # service -> restored objects

    @property
    def stack(self) -> str:
        return self.plan.stack.name

    @property
    def changed(self) -> bool:
        return bool(
            self.plan.files_changed()
            or self.plan.secrets_created
            or self.network_created
            or self.dirs_created
            or self.pulled
            or [s for s in self.steps if s.outcome in ("changed", "done")]
            or self.containers_changed
            or self.dumps_loaded
            or self.objects_put
        )


def dry_run(plan: StackPlan) -> DeployReport:
    """What a deploy would do: the plan, read as a report. Needs no engine."""
    return DeployReport(
        plan,
        dry_run=True,
        network_created=None if plan.network_exists is None else not plan.network_exists,
        dirs_created=[str(d) for d in plan.dirs],
        pulled=list(plan.missing_images or ()),
    )


def ensure_network(
    engine: Engine,
    network: NetworkPlan,
    names: StackNames,
    known: tuple[str, ...] | None = None,
) -> bool:
    """Create the stack network with its planned subnet; verify an existing one matches.

    `known`: the subnets the plan already saw on that network (no need to ask again)."""
    if known is not None and network.subnet in known:
        return False
    existing = engine.network(network.name)
    if existing is None:
        engine.create_network(
            network.name, network.subnet, network.gateway, network.ip_range, names.labels
        )
        return True
    if network.subnet not in existing.subnets:
        raise NetworkError(
            f"Docker network {network.name} exists with subnet {', '.join(existing.subnets) or 'none'}, not the planned {network.subnet}",
            f"stop the stack (`stackctl down {names.stack}`), remove it with `docker network rm {network.name}`, and deploy again",
        )
    return False


def fingerprint(plan: StackPlan, image_ids: dict[str, str | None]) -> str:
    """What the running stack is made of: the written files, the secrets and the image ids."""
    state = plan.stack.state
    digest = hashlib.sha256()
    for path in sorted(state.files):
        digest.update(f"{path}={state.files[path]}\n".encode())
    for key in sorted(plan.secrets):
        digest.update(f"{key}={plan.secrets[key]}\n".encode())
    for service in sorted(plan.images):
        digest.update(f"{service}={image_ids.get(plan.images[service])}\n".encode())
    return digest.hexdigest()


def _running_as_planned(plan: StackPlan, engine: Engine, image_ids: dict[str, str | None]) -> bool:
    containers = {c.service: c for c in engine.project_containers(plan.stack.names.project)}
    for service, reference in plan.images.items():
        found = containers.get(service)
        if found is None or found.state != "running" or found.health in ("unhealthy", "starting"):
            return False
        if found.image_id != image_ids.get(reference):
            return False
    return set(containers) <= set(plan.images)


def _running(engine: Engine, project: str, services: list[str]) -> bool:
    """Whether these services already run (and are not still starting or unhealthy)."""
    found = {c.service: c for c in engine.project_containers(project)}
    return all(
        s in found
        and found[s].state == "running"
        and found[s].health not in ("starting", "unhealthy")
        for s in services
    )


def deploy(
    plan: StackPlan,
    engine: Engine,
    force: bool = False,
    wait_seconds: int = 300,
    recheck: bool = False,
) -> DeployReport:
    """Apply the plan, then bring the engine in line with it. The caller holds the lock.

    `recheck`: run every `always` check even when the stack runs as it did when they passed."""
    stack, project = plan.stack, plan.stack.names.project
    if not plan.engine_known:
        raise EngineError(f"{stack.name} was planned without an engine", ENGINE_HINT)
    refuse_major_changes(plan)  # before anything is written
    report = DeployReport(plan, dry_run=False)
    own_ports = {p for c in engine.project_containers(project) for p in c.host_ports}
    check_ports_free(stack, own_ports)
    applied = apply(plan, force=force)
    report.backups, report.dirs_created = applied.backups, applied.dirs_created

    console.step(f"network {plan.network.name} ({plan.network.subnet})")
    known = (plan.docker_networks or {}).get(plan.network.name)
    report.network_created = ensure_network(engine, plan.network, stack.names, known)
    image_ids = dict(plan.image_ids or {})
    report.pulled = pull_missing(engine, {r: r for r, found in image_ids.items() if found is None})
    image_ids.update({ref: engine.image_id(ref) for ref in report.pulled})
    current = fingerprint(plan, image_ids)
    if plan.files_changed() or plan.secrets_created or current != stack.state.deployed:
        engine.compose_config(stack.dir, project)  # compose itself checks what was written

    from stackctl.backup.load import load_pending_dumps

    # a restored database goes back before anything (a migration, a first-run step) sees it
    report.dumps_loaded = load_pending_dumps(
        stack, engine, wait_seconds, lambda s: console.step(f"loading the restored dump of {s}")
    )
    context = StepContext(stack, engine, plan.network, plan.secrets)
    from stackctl.backup.s3_backup import pending_objects, put_back_pending_objects

    if pending_objects(stack):  # restored objects, back in their S3 server before the app starts
        report.objects_put = put_back_pending_objects(
            stack,
            engine,
            context,
            wait_seconds,
            lambda s, n: console.step(f"putting {n} restored objects back into {s}"),
        )
    # every step goes to run_steps, which skips (and reports) the ones done earlier
    before = tuple(s for s in plan.active_steps if s.phase == "before-up")
    after = tuple(s for s in plan.active_steps if s.phase == "after-up")
    checks = tuple(s for s in plan.active_steps if skippable(s))
    settled = None
    if (
        checks
        and not recheck
        and current == stack.state.deployed
        and any(stack.state.journal.get(s.id, {}).get("settled") for s in checks)
        and _running_as_planned(plan, engine, image_ids)
    ):
        settled = settled_key(plan, engine, current)
    if before:
        # before-up steps name the services they need (a database, say): start only those,
        # and only when one of those steps will run
        due = [step for step in plan.steps if step.phase == "before-up"]
        needed = sorted({svc for step in due for svc in step.options.get("start", ())})
        if needed and not _running(engine, project, needed):
            with console.status(f"starting {', '.join(needed)} for the bootstrap"):
                engine.compose_up(stack.dir, project, services=needed, wait_seconds=wait_seconds)
        report.steps += run_steps(before, context, lambda s: console.step(s.title), settled)
        if any(s.outcome == "changed" for s in report.steps):
            settled = None

    if current == stack.state.deployed and _running_as_planned(plan, engine, image_ids):
        console.step("containers already up to date")
    else:
        before_ids = {c.name: (c.id, c.state) for c in engine.project_containers(project)}
        with console.status(f"starting {stack.name} and waiting until it is healthy"):
            engine.compose_up(stack.dir, project, wait_seconds=wait_seconds)
        after_ids = {c.name: (c.id, c.state) for c in engine.project_containers(project)}
        report.containers_changed = sorted(
            n for n in after_ids if before_ids.get(n) != after_ids[n]
        )
    if after:
        report.steps += run_steps(after, context, lambda s: console.step(s.title), settled)
    if stack.state.deployed != current:
        stack.state.deployed = current
        stack.state.save()
    if checks:  # every check passed: the key the next deploy compares with
        untouched = not report.containers_changed and all(
            s.outcome != "changed" for s in report.steps
        )
        key = settled if settled is not None and untouched else None
        record_settled(stack.state, checks, key or settled_key(plan, engine, current))
    return report
