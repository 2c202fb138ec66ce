"""The end-of-deploy summary: what changed, where to go next, where the secrets are.

It reads the deploy report and the plan inside it; nothing here renders or plans again.
"""

from __future__ import annotations

from typing import Any

from stackctl import console
from stackctl.console import escape
from stackctl.deploy import DeployReport
from stackctl.render import expand
from stackctl.secrets import env_path


def report_json(report: DeployReport) -> dict[str, Any]:
    plan = report.plan
    return {
        "stack": report.stack,
        "dry_run": report.dry_run,
        "changed": report.changed,
        "files": [{"path": f.file.path, "action": f.action} for f in plan.files],
        "proxy_files": [
            {"path": str(p.base / c.file.path), "action": c.action}
            for p in plan.proxy
            for c in p.changes
        ],
        "secrets_created": list(plan.secrets_created),
        "network": plan.network.as_state(),
        "network_created": report.network_created,
        "dirs_created": report.dirs_created,
        "pulled": report.pulled,
        "images_unknown": plan.image_ids is None,
        "steps": [{"id": s.step, "outcome": s.outcome, "detail": s.detail} for s in report.steps],
        "steps_to_run": [s.id for s in plan.steps] if report.dry_run else [],
        "containers_changed": report.containers_changed,
        "backups": report.backups,
        "warnings": list(plan.warnings),
        "postgres_major_changes": [c.as_json() for c in plan.major_changes],
    }


def print_report(report: DeployReport) -> None:
    plan, stack = report.plan, report.plan.stack
    prefix = "would " if report.dry_run else ""
    for warning in plan.warnings:
        console.warn(warning)
    for base, change in plan.all_files():
        if change.action != "identical":
            shown = change.file.path if base == stack.dir else str(base / change.file.path)
            console.info(f"  [{change.action}]{change.action:>9}[/] {escape(shown)}")
    if plan.secrets_created:
        console.info(f"  {prefix}create secrets: {escape(', '.join(plan.secrets_created))}")
    if report.network_created:
        console.info(f"  {prefix}create network {escape(plan.network.name)} {plan.network.subnet}")
    elif report.network_created is None:
        console.info(
            f"  network {escape(plan.network.name)} {plan.network.subnet}: unknown whether it exists (no engine)"
        )
    for ref in report.pulled:
        console.info(f"  {prefix}pull {escape(ref)}")
    if plan.image_ids is None:
        console.info("  images: unknown which are missing (no engine)")
    for step in report.steps:
        if step.outcome != "skipped":
            console.info(f"  step {escape(step.step)}: {escape(step.detail)}")
    if report.dry_run:
        for planned in plan.steps:
            console.info(f"  would run step {escape(planned.id)}")
    for name in report.containers_changed:
        console.info(f"  container {escape(name)} (re)created or started")
    if report.dry_run:
        console.ok(
            f"{stack.name}: dry run; nothing was changed"
            if report.changed
            else f"{stack.name}: up to date; a deploy would change nothing"
        )
        return
    if not report.changed:
        console.ok(f"{stack.name}: already deployed and healthy; nothing changed")
    else:
        console.ok(f"{stack.name} deployed")
    for vhost in plan.vhosts:
        console.info(f"  {escape(vhost.name):<10} {escape(f'https://{vhost.hostname}/')}")
    ips = ", ".join(f"{k} {v}" for k, v in plan.network.ips.items())
    console.info(
        f"  network {escape(plan.network.name)} {plan.network.subnet}; fixed: {escape(ips)}"
    )
    console.info(
        f"  secrets: {escape(str(env_path(stack.dir)))} (mode 0600; `stackctl secrets show {stack.name}`)"
    )
    if report.changed:
        _proxy_notes(report)
    if report.changed and stack.recipe.next_steps:
        console.info("next:")
        for line in stack.recipe.next_steps:
            console.info(f"  • {escape(expand(stack.recipe, line, stack.context()))}")


def _proxy_notes(report: DeployReport) -> None:
    """Where the proxy config is and what the proxy server needs to load it."""
    from stackctl import proxy

    plan, stack = report.plan, report.plan.stack
    snippets = [f.file.path for f in plan.files if f.file.path.startswith("proxy/")]
    if not snippets:
        return
    dialect = stack.site.proxy
    if plan.proxy:
        where = ", ".join(str(p.base / c.file.path) for p in plan.proxy for c in p.changes)
        console.info(f"  {dialect} config: {escape(where)}")
    else:
        console.info(
            f"  {dialect} snippet: {escape(str(stack.dir / snippets[0]))} ({dialect} is not installed here; copy it, or `stackctl proxy {stack.name} --write --root DIR`)"
        )
    for line in proxy.needs(dialect, plan.vhosts, stack.name, proxy.site_from(stack.site)):
        console.info(f"    {escape(line)}")
