"""A backup before deploy changes an image of a stack that holds a database.

An image change may migrate the database in a way the old image cannot read back; the
archive taken first is the way back. It is taken when the site sets an encryption key
([backup] passphrase_file or recipients); without one, deploy says that none was taken.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

from stackctl import console
from stackctl.backup.archive import Keys
from stackctl.engine import Engine
from stackctl.plan import StackPlan


def changed_images(plan: StackPlan, engine: Engine) -> list[str]:
    """The database-holding stack's services whose running image would change."""
    stack = plan.stack
    if not any(s.backup and s.backup.is_dump for s in stack.recipe.services):
        return []
    running = {c.service: c for c in engine.project_containers(stack.names.project)}
    ids = plan.image_ids or {}
    return sorted(
        service
        for service, reference in plan.images.items()
        if service in running and running[service].image_id != ids.get(reference)
    )


def backup_before_change(plan: StackPlan, engine: Engine) -> Path | None:
    """Take the backup when an image changes; the caller holds the stack's lock."""
    from stackctl.backup.keys import writing_keys
    from stackctl.backup.prune import default_output
    from stackctl.backup.take import Progress, take_backup
    from stackctl.errors import StackctlError

    changing = changed_images(plan, engine)
    if not changing:
        return None
    site = plan.stack.site
    try:
        keys: Keys = writing_keys(site, None, [], no_encrypt=False)
    except StackctlError:
        console.warn(
            f"{plan.stack.name}: images of {', '.join(changing)} change and no backup was taken "
            f"(set [backup] passphrase_file or recipients in {site.where()})"
        )
        return None
    output = default_output(site, keys)
    output = output.with_name(output.name.replace("stackctl-", f"stackctl-{plan.stack.name}-", 1))
    with console.status(f"backing up {plan.stack.name} before its images change"):
        report = take_backup(
            site, [lambda: nullcontext(plan.stack)], engine, keys, output, Progress()
        )
    console.step(f"backup before the image change: {report.archive}")
    return report.archive
