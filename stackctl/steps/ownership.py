"""`data-owner` and `file-owner`: data folders and rendered files owned by the user a stack's
containers run as.

Runs on the host, where stackctl manages the data root. Checked on every deploy: only entries
with another owner are changed, so a second run changes nothing and says so.

    [[bootstrap]]
    kind = "data-owner"
    phase = "before-up"
    always = true
    uid = "{{ settings.uid }}"
    gid = "{{ settings.gid }}"
    paths = ["public/system"]   # optional: folders under the stack's data folder
                                # (default: every data_dirs entry of the recipe)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from stackctl.errors import RecipeError, StackctlError
from stackctl.schema import optional, required
from stackctl.steps import step_kind

if TYPE_CHECKING:
    from stackctl.recipe import Step
    from stackctl.steps import StepContext


def _number(step: Step, ctx: StepContext, key: str) -> int:
    from stackctl.render import expand

    raw = expand(ctx.stack.recipe, str(step.options[key]), ctx.stack.context())
    try:
        return int(raw)
    except ValueError:
        raise RecipeError(f"step {step.id}: {key} {raw!r} is not a number") from None


def _chown_tree(root: Path, uid: int, gid: int) -> int:
    """Give every entry under root (root included, links not followed) to uid:gid."""
    changed = 0
    entries = [root]
    for folder, dirs, files in os.walk(root):
        entries += [Path(folder, name) for name in (*dirs, *files)]
    for entry in entries:
        info = entry.lstat()
        if (info.st_uid, info.st_gid) != (uid, gid):
            os.lchown(entry, uid, gid)
            changed += 1
    return changed


@step_kind(
    "data-owner",
    {"uid": required(str, int), "gid": required(str, int), "paths": optional(list)},
    host=True,
)
def data_owner(step: Step, ctx: StepContext) -> tuple[bool, str]:
    uid, gid = _number(step, ctx, "uid"), _number(step, ctx, "gid")
    paths = list(step.options.get("paths") or ctx.stack.recipe.data_dirs)
    changed = 0
    for relative in paths:
        folder = ctx.stack.data_dir / relative
        folder.mkdir(parents=True, exist_ok=True)
        try:
            changed += _chown_tree(folder, uid, gid)
        except PermissionError as exc:
            raise StackctlError(
                f"cannot give {folder} to {uid}:{gid}: {exc.strerror}",
                f"run stackctl as root, or once: chown -R {uid}:{gid} {folder}",
            ) from None
    where = ", ".join(paths)
    if changed:
        return True, f"{where}: {changed} entries now owned by {uid}:{gid}"
    return False, f"{where} owned by {uid}:{gid}"


@step_kind(
    "file-owner",
    {
        "uid": required(str, int),
        "gid": required(str, int),
        "mode": optional(int),
        "paths": required(list),
    },
    host=True,
)
def file_owner(step: Step, ctx: StepContext) -> tuple[bool, str]:
    """Files stackctl rendered into the stack folder, given to the container user that reads
    them (a config holding secrets, say), with their mode; checked on every deploy."""
    uid, gid = _number(step, ctx, "uid"), _number(step, ctx, "gid")
    mode = step.options.get("mode")
    changed = []
    for relative in step.options["paths"]:
        path = ctx.stack.dir / str(relative)
        if path.is_symlink() or not path.is_file():
            raise StackctlError(
                f"step {step.id}: {path} is not a file stackctl wrote",
                "run the deploy again: it renders the file first",
            )
        info = path.stat()
        try:
            if (info.st_uid, info.st_gid) != (uid, gid):
                os.chown(path, uid, gid)
                changed.append(str(relative))
            if mode is not None and info.st_mode & 0o7777 != mode:
                os.chmod(path, mode)
                changed.append(str(relative))
        except PermissionError as exc:
            raise StackctlError(
                f"cannot give {path} to {uid}:{gid}: {exc.strerror}",
                "run stackctl as root",
            ) from None
    where = ", ".join(str(p) for p in step.options["paths"])
    mode_text = f" mode {mode:o}" if mode is not None else ""
    if changed:
        return True, f"{', '.join(dict.fromkeys(changed))} now {uid}:{gid}{mode_text}"
    return False, f"{where} owned by {uid}:{gid}{mode_text}"
