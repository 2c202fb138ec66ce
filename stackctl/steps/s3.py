"""`s3-buckets`: create missing buckets on any S3-compatible server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackctl.errors import StackctlError
from stackctl.schema import optional, required
from stackctl.steps import container_name, step_kind
from stackctl.wait import poll

if TYPE_CHECKING:
    from collections.abc import Mapping

    from stackctl import s3
    from stackctl.engine import Engine
    from stackctl.recipe import Step
    from stackctl.stack import Stack
    from stackctl.steps import StepContext


def _endpoint(step: Step, ctx: StepContext) -> s3.S3Endpoint:
    return endpoint(step, ctx.stack, ctx.engine, ctx.network.name, ctx.secrets)


def endpoint(
    step: Step, stack: Stack, engine: Engine, network: str, secrets: Mapping[str, str]
) -> s3.S3Endpoint:
    """Where the host reaches the S3 server of an `s3-buckets` step, with its credentials
    (also what the `s3-objects` backup method signs with)."""
    from stackctl import s3

    options = step.options
    published = options.get("published_port")
    if published:
        host, port = "127.0.0.1", int(stack.settings[published])
    else:
        # the host reaches the container directly on the stack's bridge network
        container = engine.container(container_name(stack, options["service"]))
        networks = (container or {}).get("NetworkSettings", {}).get("Networks", {})
        host, port = networks.get(network, {}).get("IPAddress", ""), int(options["port"])
    return s3.S3Endpoint(
        host,
        port,
        secrets[options["access_key"]],
        secrets[options["secret_key"]],
        options.get("region", "us-east-1"),
    )


@step_kind(
    "s3-buckets",
    {
        "service": required(str),
        "port": required(int),
        "published_port": optional(str),
        "access_key": required(str),
        "secret_key": required(str),
        "region": optional(str),
        "buckets": required(list),
        "wait_seconds": optional(int, float),
    },
)
def s3_buckets(step: Step, ctx: StepContext) -> tuple[bool, str]:
    from stackctl import s3  # http.client only when buckets are checked

    endpoint = _endpoint(step, ctx)
    hint = f"check the S3 service with `stackctl logs {ctx.stack.name} {step.options['service']}`"

    def missing_buckets() -> tuple[list[str] | None, str]:
        try:
            return [b for b in step.options["buckets"] if not s3.bucket_exists(endpoint, b)], ""
        except s3.S3Error as exc:
            if "403" in str(exc):  # wrong credentials: waiting will not help
                raise StackctlError(f"bucket provisioning: {exc}", hint) from exc
            return None, str(exc)

    missing = poll(
        missing_buckets,
        float(step.options.get("wait_seconds", 90)),
        lambda last: StackctlError(f"bucket provisioning: {last}", hint),
    )
    for bucket in missing:
        try:
            s3.create_bucket(endpoint, bucket)
        except s3.S3Error as exc:
            raise StackctlError(f"creating bucket {bucket}: {exc}") from exc
    if missing:
        return True, "created " + ", ".join(missing)
    return False, "all buckets present"
