"""Bootstrap steps: idempotent, journaled in the stack state, resumable after a kill.

A step is marked `started` before it runs and `done` after; a step found `started` was
interrupted and simply runs again (each runner is idempotent). Steps marked `always` are
cheap checks that run on every deploy and report a change only when they made one.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stackctl import s3
from stackctl.engine import Engine
from stackctl.errors import StackctlError
from stackctl.network import NetworkPlan
from stackctl.recipe import Step
from stackctl.stack import Stack


@dataclass(frozen=True)
class StepResult:
    step: str
    outcome: str  # "done", "changed", "unchanged", "skipped"
    detail: str = ""


@dataclass
class StepContext:
    stack: Stack
    engine: Engine
    network: NetworkPlan
    secrets: Mapping[str, str]


Runner = Callable[[Step, StepContext], tuple[bool, str]]


def _s3_endpoint(step: Step, ctx: StepContext) -> s3.S3Endpoint:
    options = step.options
    published = options.get("published_port")
    if published:
        host, port = "127.0.0.1", int(ctx.stack.settings[published])
    else:
        container = ctx.engine.container(f"{ctx.stack.name}-{options['service']}")
        networks = (container or {}).get("NetworkSettings", {}).get("Networks", {})
        host, port = networks.get(ctx.network.name, {}).get("IPAddress", ""), int(options["port"])
    return s3.S3Endpoint(
        host,
        port,
        ctx.secrets[options["access_key"]],
        ctx.secrets[options["secret_key"]],
        options.get("region", "us-east-1"),
    )


def run_s3_buckets(step: Step, ctx: StepContext) -> tuple[bool, str]:
    endpoint = _s3_endpoint(step, ctx)
    deadline = time.monotonic() + float(step.options.get("wait_seconds", 90))
    while True:
        try:
            missing = [b for b in step.options["buckets"] if not s3.bucket_exists(endpoint, b)]
            break
        except s3.S3Error as exc:
            if time.monotonic() > deadline or "403" in str(exc):
                raise StackctlError(
                    f"bucket provisioning: {exc}",
                    "check the S3 service with `stackctl logs STACK minio`",
                ) from exc
            time.sleep(1)
    for bucket in missing:
        try:
            s3.create_bucket(endpoint, bucket)
        except s3.S3Error as exc:
            raise StackctlError(f"creating bucket {bucket}: {exc}") from exc
    if missing:
        return True, "created " + ", ".join(missing)
    return False, "all buckets present"


def run_exec(step: Step, ctx: StepContext) -> tuple[bool, str]:
    container = f"{ctx.stack.name}-{step.options['service']}"
    unless = step.options.get("unless")
    if unless and ctx.engine.exec(container, unless).exit_code == 0:
        return False, "already done"
    result = ctx.engine.exec(container, step.options["argv"], user=step.options.get("user"))
    if result.exit_code != 0:
        raise StackctlError(
            f"step {step.id} failed with exit code {result.exit_code}: {result.output.strip()[-500:]}"
        )
    return True, "ran"


RUNNERS: dict[str, Runner] = {"s3-buckets": run_s3_buckets, "exec": run_exec}


def register(kind: str, runner: Runner) -> None:
    RUNNERS[kind] = runner


def run_steps(
    steps: tuple[Step, ...], ctx: StepContext, on_step: Callable[[Step], Any] | None = None
) -> list[StepResult]:
    state = ctx.stack.state
    results = []
    for step in steps:
        entry = state.journal.get(step.id, {})
        if entry.get("status") == "done" and not step.always:
            results.append(StepResult(step.id, "skipped", "done earlier"))
            continue
        if on_step:
            on_step(step)
        state.journal[step.id] = {**entry, "status": "started", "at": _now()}
        state.save()
        changed, detail = RUNNERS[step.kind](step, ctx)
        state.journal[step.id] = {"status": "done", "at": _now(), "detail": detail}
        state.save()
        results.append(StepResult(step.id, "changed" if changed else "unchanged", detail))
    return results


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
