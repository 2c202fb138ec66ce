"""Plan, then write: create / identical / update / conflict, and a refused run changes nothing."""

import stat

import pytest

from stackctl.errors import ConflictError
from stackctl.files import RenderedFile, apply_plan, plan_files


def actions(changes):
    return {c.file.path: c.action for c in changes}


def test_plan_then_write_cycle(tmp_path):
    written: dict[str, str] = {}
    files = [RenderedFile("a.yml", "one\n"), RenderedFile("b.yaml", "two\n", mode=0o600)]
    changes = plan_files(tmp_path, files, written)
    assert actions(changes) == {"a.yml": "create", "b.yaml": "create"}
    apply_plan(tmp_path, changes, written)
    assert stat.S_IMODE((tmp_path / "b.yaml").stat().st_mode) == 0o600
    assert actions(plan_files(tmp_path, files, written)) == {
        "a.yml": "identical",
        "b.yaml": "identical",
    }
    changed = [RenderedFile("a.yml", "one!\n"), files[1]]
    assert actions(plan_files(tmp_path, changed, written))["a.yml"] == "update"


def test_hand_edit_is_a_conflict_and_nothing_is_written(tmp_path):
    written: dict[str, str] = {}
    files = [RenderedFile("a.yml", "one\n"), RenderedFile("b.yml", "two\n")]
    apply_plan(tmp_path, plan_files(tmp_path, files, written), written)
    (tmp_path / "a.yml").write_text("mine\n")
    new = [RenderedFile("a.yml", "one v2\n"), RenderedFile("b.yml", "two v2\n")]
    changes = plan_files(tmp_path, new, written)
    assert actions(changes) == {"a.yml": "conflict", "b.yml": "update"}
    with pytest.raises(ConflictError, match="a.yml"):
        apply_plan(tmp_path, changes, written)
    assert (tmp_path / "a.yml").read_text() == "mine\n"
    assert (tmp_path / "b.yml").read_text() == "two\n"  # not half-applied
    backups = apply_plan(tmp_path, changes, written, force=True)
    assert (tmp_path / "a.yml").read_text() == "one v2\n"
    assert len(backups) == 1 and open(backups[0]).read() == "mine\n"


def test_foreign_file_is_a_conflict(tmp_path):
    (tmp_path / "a.yml").write_text("someone else's\n")
    change = plan_files(tmp_path, [RenderedFile("a.yml", "ours\n")], {})[0]
    assert change.action == "conflict" and "not written by stackctl" in change.reason


def test_render_records_what_it_wrote_and_clears_the_pending_digests(
    site_file, run_cli, monkeypatch, tmp_path
):
    import json

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    site_file()
    assert run_cli("render", "ente").exit_code == 0
    kept = tmp_path / "stacks/docker-ente/.stackctl"
    state = json.loads((kept / "state.json").read_text())
    assert "docker-compose.yml" in state["files"]
    assert not state.get("pending") and not (kept / "pending.json").exists()


def test_render_without_an_engine_says_once_that_the_subnet_is_not_saved(
    site_file, run_cli, monkeypatch, tmp_path
):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    site_file()
    result = run_cli("render", "ente")
    said = (result.stdout + result.stderr).count("not checked against Docker networks")
    assert result.exit_code == 0 and said == 1
