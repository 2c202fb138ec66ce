"""`file-owner`: a rendered file given to the container user that reads it, with its mode."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from stackctl.errors import StackctlError
from stackctl.recipe import Step
from stackctl.recipe_module import load
from stackctl.steps import STEP_RUNNERS, load_generic

load_generic()


def _ctx(tmp_path):
    from stackctl.paths import stacks_dir
    from stackctl.recipe import get_recipe

    load(stacks_dir() / "mas")
    stack = SimpleNamespace(
        dir=tmp_path, recipe=get_recipe("mas"), context=lambda: {"settings": {}}
    )
    return SimpleNamespace(stack=stack)


def _step(paths, mode=0o600):
    options = {"uid": 65532, "gid": 65532, "mode": mode, "paths": paths}
    return Step(id="owner", kind="file-owner", title="t", options=options)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file away")
def test_owner_and_mode_are_set_then_left_alone(tmp_path):
    (tmp_path / "conf").mkdir()
    target = tmp_path / "conf" / "config.yaml"
    target.write_text("x: 1\n")
    os.chmod(target, 0o644)
    run = STEP_RUNNERS["file-owner"]
    changed, detail = run(_step(["conf/config.yaml"]), _ctx(tmp_path))
    found = target.stat()
    assert changed and (found.st_uid, found.st_gid, found.st_mode & 0o777) == (65532, 65532, 0o600)
    changed, detail = run(_step(["conf/config.yaml"]), _ctx(tmp_path))
    assert not changed and "owned by 65532:65532" in detail


def test_a_missing_file_or_a_link_is_refused(tmp_path):
    run = STEP_RUNNERS["file-owner"]
    with pytest.raises(StackctlError, match="is not a file stackctl wrote"):
        run(_step(["missing.yaml"]), _ctx(tmp_path))
    (tmp_path / "elsewhere").write_text("")
    (tmp_path / "link.yaml").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(StackctlError, match="is not a file stackctl wrote"):
        run(_step(["link.yaml"]), _ctx(tmp_path))


def test_a_step_keeps_a_second_value_under_keep_what_as(tmp_path):
    from stackctl.steps import kept

    step = Step(id="admin", kind="x", title="t", options={"keep_as": "pw", "keep_ids_as": "ids"})
    recipe = SimpleNamespace(bootstrap=(step,))
    assert kept.keeping_step(recipe, "ids") is step and kept.keeping_step(recipe, "pw") is step
    assert kept.keeping_step(recipe, "other") is None
    stack = SimpleNamespace(
        dir=tmp_path, recipe=recipe, state=SimpleNamespace(journal={"admin": {}})
    )
    kept.keep(stack, step, "secret")
    kept.keep(stack, step, "01A\n01B", name="ids")
    assert kept.read(stack, "pw") == "secret" and kept.read(stack, "ids") == "01A\n01B"
