"""`always` bootstrap checks on the fake engine: skipped while the stack runs exactly as
when they passed; run again after a container is recreated or restarted, a file or a
setting changes, an interrupted run, or `--recheck`. Host-side checks run every time."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackctl.apply import plan_to_apply
from stackctl.commands.options import site as load_site
from stackctl.deploy import DeployReport, deploy
from stackctl.engine import ExecResult
from stackctl.engine_fake import FakeEngine
from stackctl.errors import EngineError
from stackctl.recipe import use_recipe_paths
from stackctl.stack import open_stack
from tests.ports import free_port

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "recipes" / "example" / "greeter"
OWNER_STEP = f"""
[[bootstrap]]
id = "data-owned"
kind = "data-owner"
title = "the greeting folder owned by the runner"
phase = "before-up"
always = true
uid = {os.getuid()}
gid = {os.getgid()}
paths = ["greetings"]
"""


@pytest.fixture
def write_site(site_file, tmp_path: Path) -> Iterator:
    """The example recipe with its exec check made `always`, plus a host-side check."""
    recipes = tmp_path / "recipes"
    shutil.copytree(EXAMPLE, recipes / "greeter")
    toml = recipes / "greeter" / "recipe.toml"
    text = toml.read_text().replace(
        'argv = ["test", "-s", "/srv/greeting.txt"]',
        'argv = ["test", "-s", "/srv/greeting.txt"]\nalways = true',
    )
    toml.write_text(text + OWNER_STEP)
    port = free_port()

    def write(greeting: str = "hello") -> None:
        site_file(
            extra=f'recipe_paths = ["{recipes}"]\n'
            f'[stacks.greeter]\nport = {port}\ngreeting = "{greeting}"\n'
        )

    write()
    yield write
    use_recipe_paths([])


def deploy_once(engine: FakeEngine, recheck: bool = False) -> DeployReport:
    stack = open_stack("greeter", load_site())
    return deploy(plan_to_apply(stack, engine), engine, wait_seconds=0, recheck=recheck)


def outcomes(report: DeployReport) -> dict[str, str]:
    return {s.step: s.outcome for s in report.steps}


def execs(engine: FakeEngine) -> int:
    return engine.verbs().count("exec")


def test_a_true_no_op_skips_the_check_and_a_recreated_container_runs_it(write_site):
    engine = FakeEngine()
    deploy_once(engine)
    engine.calls.clear()
    again = deploy_once(engine)
    assert outcomes(again)["greeting-mounted"] == "skipped" and execs(engine) == 0
    assert not again.changed
    assert engine.verbs().count("container") == 1  # the key is worked out once
    # the host-side check still runs: a folder can be chowned while containers keep running
    assert outcomes(again)["data-owned"] == "unchanged"

    project = again.plan.stack.names.project
    engine.recreate(project, "web")
    engine.calls.clear()
    assert outcomes(deploy_once(engine))["greeting-mounted"] != "skipped"
    assert execs(engine) == 1
    engine.calls.clear()
    assert outcomes(deploy_once(engine))["greeting-mounted"] == "skipped"
    assert execs(engine) == 0


def test_a_restarted_container_runs_the_check_again(write_site):
    engine = FakeEngine()
    names = deploy_once(engine).plan.stack.names
    engine.restart(names.container("web"))
    engine.calls.clear()
    assert outcomes(deploy_once(engine))["greeting-mounted"] != "skipped"
    assert execs(engine) == 1


def test_a_changed_file_runs_the_check_again(write_site):
    engine = FakeEngine()
    deploy_once(engine)
    write_site(greeting="good evening")
    engine.calls.clear()
    report = deploy_once(engine)
    assert {f.file.path for f in report.plan.files if f.action == "update"} == {"greeting.txt"}
    assert outcomes(report)["greeting-mounted"] != "skipped" and execs(engine) == 1


def test_an_interrupted_check_runs_again_on_an_unchanged_stack(write_site):
    engine = FakeEngine()
    deploy_once(engine)  # passed: settled
    names = open_stack("greeter", load_site()).names
    engine.recreate(names.project, "web")

    def killed(container: str, argv: list[str]) -> ExecResult:
        raise EngineError("exec killed")

    engine.on_exec = killed
    with pytest.raises(EngineError):
        deploy_once(engine)
    assert open_stack("greeter", load_site()).state.journal["greeting-mounted"]["status"] == (
        "started"
    )
    engine.on_exec = lambda container, argv: ExecResult(0, "")
    engine.calls.clear()
    # the containers are as the interrupted run left them: the check still runs
    assert outcomes(deploy_once(engine))["greeting-mounted"] != "skipped"
    assert execs(engine) == 1
    engine.calls.clear()
    assert outcomes(deploy_once(engine))["greeting-mounted"] == "skipped"


def test_recheck_runs_every_check(write_site):
    engine = FakeEngine()
    deploy_once(engine)
    engine.calls.clear()
    assert outcomes(deploy_once(engine, recheck=True))["greeting-mounted"] != "skipped"
    assert execs(engine) == 1
