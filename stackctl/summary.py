"""The end-of-deploy summary: what changed, where to go next, where the secrets are."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from stackctl import console
from stackctl.deploy import DeployReport, env_file, stack_urls
from stackctl.render import expand
from stackctl.stack import Stack


def report_json(report: DeployReport) -> dict[str, Any]:
    return {
        "stack": report.stack,
        "dry_run": report.dry_run,
        "changed": report.changed,
        "files": [{"path": f.file.path, "action": f.action} for f in report.files],
        "proxy_files": [
            {"path": str(base / c.file.path), "action": c.action}
            for base, c in report.proxy_changes()
        ],
        "secrets_created": list(report.secrets_created),
        "network": report.network.as_state() if report.network else None,
        "network_created": report.network_created,
        "dirs_created": report.dirs_created,
        "pulled": report.pulled,
        "steps": [{"id": s.step, "outcome": s.outcome, "detail": s.detail} for s in report.steps],
        "containers_changed": report.containers_changed,
        "backups": report.backups,
    }


def print_report(stack: Stack, report: DeployReport) -> None:
    prefix = "would " if report.dry_run else ""
    for change in report.files:
        if change.action != "identical":
            console.info(f"  [{change.action}]{change.action:>9}[/] {escape(change.file.path)}")
    for base, change in report.proxy_changes():
        if change.action != "identical":
            console.info(
                f"  [{change.action}]{change.action:>9}[/] {escape(str(base / change.file.path))}"
            )
    if report.secrets_created:
        console.info(f"  {prefix}create secrets: {escape(', '.join(report.secrets_created))}")
    if report.network and report.network_created:
        console.info(
            f"  {prefix}create network {escape(report.network.name)} {report.network.subnet}"
        )
    for ref in report.pulled:
        console.info(f"  {prefix}pull {escape(ref)}")
    for step in report.steps:
        if step.outcome != "skipped":
            console.info(f"  step {escape(step.step)}: {escape(step.detail)}")
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
    for name, url in stack_urls(stack):
        console.info(f"  {escape(name):<10} {escape(url)}")
    if report.network:
        ips = ", ".join(f"{k} {v}" for k, v in report.network.ips.items())
        console.info(
            f"  network {escape(report.network.name)} {report.network.subnet}; fixed: {escape(ips)}"
        )
    console.info(
        f"  secrets: {escape(str(env_file(stack)))} (mode 0600; `stackctl secrets show {stack.name}`)"
    )
    if report.changed:
        _proxy_notes(stack, report)
    if report.changed and stack.recipe.next_steps:
        console.info("next:")
        for line in stack.recipe.next_steps:
            console.info(f"  • {escape(expand(stack.recipe, line, stack.context()))}")


def _proxy_notes(stack: Stack, report: DeployReport) -> None:
    """Where the proxy snippet is and what the proxy server needs to load it."""
    from stackctl import proxy
    from stackctl.render import stack_vhosts

    snippets = [f.file.path for f in report.files if f.file.path.startswith("proxy/")]
    if not snippets:
        return
    vhosts = stack_vhosts(stack.recipe, stack.site, stack.settings, stack.state.facts)
    dialect = stack.site.proxy
    if report.proxy:
        where = ", ".join(str(b / c.file.path) for b, c in report.proxy_changes())
        console.info(f"  {dialect} config: {escape(where)}")
    else:
        console.info(
            f"  {dialect} snippet: {escape(str(stack.dir / snippets[0]))} ({dialect} is not installed here; copy it, or `stackctl proxy {stack.name} --write --root DIR`)"
        )
    for line in proxy.needs(dialect, vhosts, stack.name, proxy.site_from(stack.site)):
        console.info(f"    {escape(line)}")
