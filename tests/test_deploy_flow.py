"""The deploy flow on the fake engine: check -> apply -> check -> apply.

A first deploy changes things and says so; a second changes nothing and asks the engine
to do nothing; a dry run is the plan a deploy then carries out, and needs no engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stackctl.apply import plan_to_apply
from stackctl.commands.options import site as load_site
from stackctl.deploy import DeployReport, deploy, dry_run
from stackctl.engine_fake import FakeEngine
from stackctl.plan import plan_stack
from stackctl.recipe import use_recipe_paths
from stackctl.stack import open_stack
from tests.ports import free_port

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "recipes" / "example"
WRITING_VERBS = {"create_network", "pull", "compose_config", "compose_up", "exec", "restart"}


@pytest.fixture
def site(site_file, tmp_path: Path) -> Iterator[Path]:
    """A site with the example recipe on a free port; yields the stack folder."""
    site_file(extra=f'recipe_paths = ["{EXAMPLE}"]\n[stacks.greeter]\nport = {free_port()}\n')
    yield tmp_path / "stacks" / "docker-greeter"
    use_recipe_paths([])


def deploy_once(engine: FakeEngine) -> DeployReport:
    """What `stackctl deploy greeter` does once it holds the lock."""
    stack = open_stack("greeter", load_site())
    return deploy(plan_to_apply(stack, engine), engine, wait_seconds=0)


def test_a_first_deploy_changes_everything_and_a_second_nothing(site):
    engine = FakeEngine()
    first = deploy_once(engine)
    assert first.changed
    assert {f.file.path: f.action for f in first.plan.files} == {
        "docker-compose.yml": "create",
        "greeting.txt": "create",
    }
    assert first.plan.secrets_created == ("GREETER_TOKEN",) and first.network_created
    assert first.pulled == ["alpine/socat:latest"]
    assert [(s.step, s.outcome) for s in first.steps] == [("greeting-mounted", "changed")]
    assert first.containers_changed == [first.plan.stack.names.container("web")]
    assert "GREETER_TOKEN=" in (site / ".env").read_text()

    engine.calls.clear()
    second = deploy_once(engine)
    assert not second.changed, second
    assert all(f.action == "identical" for f in second.plan.files)
    assert not second.plan.secrets_created and not second.pulled
    assert [(s.step, s.outcome) for s in second.steps] == [("greeting-mounted", "skipped")]
    # nothing was asked of the engine that changes anything, nor any compose command
    assert WRITING_VERBS.isdisjoint(engine.verbs()), engine.verbs()


def test_a_dry_run_is_the_plan_the_deploy_carries_out(site):
    engine = FakeEngine()
    stack = open_stack("greeter", load_site())
    would = dry_run(plan_stack(stack, engine))
    assert engine.verbs() and WRITING_VERBS.isdisjoint(engine.verbs())
    assert not site.exists()  # a dry run writes nothing
    did = deploy_once(engine)
    assert [(f.file.path, f.action) for f in would.plan.files] == [
        (f.file.path, f.action) for f in did.plan.files
    ]
    assert would.plan.secrets_created == did.plan.secrets_created
    assert (would.pulled, would.network_created) == (did.pulled, did.network_created)
    assert [s.id for s in would.plan.steps] == [s.step for s in did.steps]
    # after the deploy, the dry run sees nothing left to do
    again = dry_run(plan_stack(open_stack("greeter", load_site()), engine))
    assert not again.changed and not again.plan.steps


def test_a_stopped_container_is_started_again(site):
    engine = FakeEngine()
    names = deploy_once(engine).plan.stack.names
    engine.stop(names.project, "web")
    engine.calls.clear()
    report = deploy_once(engine)
    assert report.changed and report.containers_changed == [names.container("web")]
    assert "compose_up" in engine.verbs() and "compose_config" not in engine.verbs()


def test_a_new_image_id_recreates_the_container(site):
    engine = FakeEngine()
    names = deploy_once(engine).plan.stack.names
    engine.images["alpine/socat:latest"] = "sha256:newer"
    report = deploy_once(engine)
    assert report.containers_changed == [names.container("web")] and not report.pulled


def test_without_an_engine_the_plan_says_what_it_cannot_know(site):
    stack = open_stack("greeter", load_site())
    plan = plan_stack(stack, None)
    assert plan.network_exists is None and plan.missing_images is None
    assert [f.action for f in plan.files] == ["create", "create"]
    report = dry_run(plan)
    assert report.network_created is None and report.pulled == []
    with pytest.raises(Exception, match="planned without an engine"):
        deploy(plan, FakeEngine())
    assert not site.exists()


def test_dry_run_works_with_no_engine_at_all(site, run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    result = run_cli("deploy", "--dry-run", "greeter")
    assert result.exit_code == 0, result.stderr
    assert "create docker-compose.yml" in result.stdout
    assert "create secrets: GREETER_TOKEN" in result.stdout
    assert "unknown" in result.stdout and "not reachable" in result.stderr
    assert not site.exists()


def test_one_engine_per_command(site, run_cli, monkeypatch):
    engine = FakeEngine()
    built = []

    def open_engine() -> FakeEngine:
        built.append(engine)
        return engine

    monkeypatch.setattr("stackctl.engine.open_engine", open_engine)
    for argv in (
        ["deploy", "greeter", "--wait", "0"],
        ["deploy", "greeter", "--dry-run"],
        ["plan", "greeter", "ente"],
        ["status", "greeter", "ente"],
        ["down", "greeter", "ente"],
    ):
        built.clear()
        result = run_cli(*argv)
        assert result.exit_code == 0, (argv, result.stderr)
        assert len(built) == 1, argv
