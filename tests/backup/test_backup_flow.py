"""backup -> destroy -> restore -> deploy on the fake engine, and every refusal on the way.

The example recipe gets a data folder dumped as a database (the fake engine streams a
known dump out and records what is streamed back in) and a data folder kept as files.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackctl import engine as engine_module
from stackctl.apply import plan_to_apply
from stackctl.backup import age
from stackctl.commands.options import site as load_site
from stackctl.deploy import deploy
from stackctl.engine_fake import FakeEngine
from stackctl.recipe import use_recipe_paths
from stackctl.stack import open_stack

from .greeter import greeter_with_dumped_db

DUMP = b"-- a database dump\n" + b"INSERT INTO t VALUES (1);\n" * 5000
PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def world(site_file, tmp_path: Path, monkeypatch) -> Iterator[dict]:
    """A deployed greeter whose `web` owns a dumped database folder and a files folder."""
    recipes = tmp_path / "recipes"
    greeter_with_dumped_db(recipes)
    monkeypatch.setattr(age, "SCRYPT_WORK", 10)  # a test need not cost a second per key
    config = site_file(extra=f'recipe_paths = ["{recipes}"]\n[stacks.greeter]\nport = 18089\n')
    engine = FakeEngine(stream_output=DUMP)
    monkeypatch.setattr(engine_module, "open_engine", lambda: engine)
    deploy(plan_to_apply(open_stack("greeter", load_site()), engine), engine, wait_seconds=0)
    (tmp_path / "pw").write_text(PASSPHRASE + "\n")
    yield {
        "engine": engine,
        "config": config,
        "stack": tmp_path / "stacks" / "docker-greeter",
        "data": tmp_path / "data" / "greeter",
        "pw": tmp_path / "pw",
        "archive": tmp_path / "out" / "site.tar.zst.age",
        "tmp": tmp_path,
    }
    use_recipe_paths([])


def members(archive: Path, passphrase: str = PASSPHRASE) -> dict[str, bytes]:
    import zstandard

    with archive.open("rb") as source:
        plain = age.Decryptor(source, passphrase=passphrase.encode())
        stream = zstandard.ZstdDecompressor().stream_reader(plain, read_across_frames=True)
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            return {
                m.name: (tar.extractfile(m).read() if m.isfile() else b"")  # type: ignore[union-attr]
                for m in tar
            }


def back_up(run_cli, world, *extra: str):
    return run_cli(
        "backup",
        "greeter",
        "--passphrase-file",
        str(world["pw"]),
        "-o",
        str(world["archive"]),
        *extra,
    )


def destroy(world) -> None:
    for path in (world["stack"].parent, world["data"].parent):
        shutil.rmtree(path)
    world["config"].unlink()
    world["engine"].containers_by_project.clear()
    world["engine"].networks_by_name.clear()


def test_backup_destroy_restore_deploy_brings_everything_back(run_cli, world):
    stack, engine = world["stack"], world["engine"]
    (world["data"] / "db" / "PG_VERSION").write_text("17\n")  # a live database folder
    env, state = (stack / ".env").read_bytes(), (stack / ".stackctl" / "state.json").read_bytes()
    config = world["config"].read_bytes()

    done = back_up(run_cli, world, "--json")
    assert done.exit_code == 0, done.stderr
    archive = world["archive"]
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert os.listdir(archive.parent) == [archive.name]  # no spool or partial file left
    inside = members(archive)
    assert inside["dumps/greeter/web.sql"] == DUMP
    assert inside["stacks/greeter/.env"] == env and inside["site/stackctl.toml"] == config
    assert "stacks/greeter/.stackctl/state.json" in inside
    assert not any(name.startswith("data/greeter/db") for name in inside), "a live DB was copied"
    assert '"format": "stackctl-backup/1"' in inside["manifest.json"].decode()

    destroy(world)
    restored = run_cli("restore", str(archive), "--passphrase-file", str(world["pw"]))
    assert restored.exit_code == 0, restored.stderr
    assert (stack / ".env").read_bytes() == env
    assert (stack / ".stackctl" / "state.json").read_bytes() == state
    assert world["config"].read_bytes() == config
    assert (stack / ".stackctl" / "restore" / "web.sql").read_bytes() == DUMP

    engine.calls.clear()
    report = deploy(
        plan_to_apply(open_stack("greeter", load_site()), engine), engine, wait_seconds=0
    )
    assert report.dumps_loaded == ["web"]
    assert engine.streamed_in == DUMP
    # only the database was started before the dump went in
    before_load = engine.calls[: engine.verbs().index("exec_stream")]
    assert [c[2] for c in before_load if c[0] == "compose_up"] == [("web",)]
    assert not report.plan.secrets_created  # every secret came back
    assert [(s.step, s.outcome) for s in report.steps] == [("greeting-mounted", "skipped")]
    assert report.plan.network.subnet == __import__("json").loads(state)["network"]["subnet"]
    assert not (stack / ".stackctl" / "restore" / "web.sql").exists()


@pytest.mark.parametrize("damage", ["passphrase", "cut", "flip"])
def test_a_wrong_passphrase_or_a_damaged_archive_changes_nothing(run_cli, world, damage):
    assert back_up(run_cli, world).exit_code == 0
    archive, pw = world["archive"], world["pw"]
    destroy(world)
    if damage == "passphrase":
        pw.write_text("not the passphrase\n")
    elif damage == "cut":
        archive.write_bytes(archive.read_bytes()[:-1000])
    else:
        data = bytearray(archive.read_bytes())
        data[len(data) // 2] ^= 0x40
        archive.write_bytes(bytes(data))
    result = run_cli("restore", str(archive), "--passphrase-file", str(pw))
    assert result.exit_code != 0
    assert {"passphrase": "wrong passphrase", "cut": "cut short", "flip": "altered"}[
        damage
    ] in result.stderr
    assert result.stderr.count("error:") == 1
    assert not world["stack"].parent.exists() and not world["data"].parent.exists()
    assert not world["config"].exists()


def test_other_secrets_on_the_server_are_refused_then_kept_aside_with_force(run_cli, world):
    assert back_up(run_cli, world).exit_code == 0
    env = world["stack"] / ".env"
    mine = env.read_text().replace("GREETER_TOKEN=", "GREETER_TOKEN=x", 1)
    env.write_text(mine)
    world["engine"].containers_by_project.clear()  # stopped
    refused = run_cli("restore", str(world["archive"]), "--passphrase-file", str(world["pw"]))
    assert refused.exit_code != 0 and "GREETER_TOKEN" in refused.stderr
    assert env.read_text() == mine
    forced = run_cli(
        "restore", str(world["archive"]), "--passphrase-file", str(world["pw"]), "--force"
    )
    assert forced.exit_code == 0, forced.stderr
    aside = [p for p in world["stack"].parent.iterdir() if ".before-restore-" in p.name]
    assert len(aside) == 1 and (aside[0] / ".env").read_text() == mine
    assert env.read_text() != mine


def test_a_running_stack_is_not_restored_over(run_cli, world):
    assert back_up(run_cli, world).exit_code == 0
    result = run_cli("restore", str(world["archive"]), "--passphrase-file", str(world["pw"]))
    assert result.exit_code != 0 and "is running" in result.stderr


def test_without_an_encryption_setting_the_backup_is_refused(run_cli, world):
    result = run_cli("backup", "greeter", "-o", str(world["archive"]))
    assert result.exit_code != 0 and "--no-encrypt" in result.stderr
    assert not world["archive"].parent.exists() or not any(world["archive"].parent.iterdir())
    plain = run_cli("backup", "greeter", "-o", str(world["archive"]), "--no-encrypt")
    assert plain.exit_code == 0, plain.stderr
    assert world["archive"].read_bytes()[:4] == b"\x28\xb5\x2f\xfd"  # zstd, as `zstd -d` reads


def test_a_failed_dump_leaves_no_archive_and_no_partial_file(run_cli, world):
    world["engine"].on_exec = lambda container, argv: __import__(
        "stackctl.engine", fromlist=["ExecResult"]
    ).ExecResult(1, "")
    result = back_up(run_cli, world)
    assert result.exit_code != 0 and "dump" in result.stderr
    assert not world["archive"].exists()
    assert not [p for p in world["archive"].parent.iterdir()]
    assert not [t for t in threading.enumerate() if t.name.startswith("archive-")]


def test_a_disk_filling_while_the_archive_is_written_leaves_no_archive(run_cli, world, monkeypatch):
    from stackctl.backup import take

    (world["stack"] / "big.bin").write_bytes(os.urandom(12 << 20))  # past what queues hold
    real_write = take._CountingFile.write

    def full(self, data):
        if self.size > 1 << 20:
            raise OSError(28, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(take._CountingFile, "write", full)
    result = back_up(run_cli, world)
    assert result.exit_code != 0 and "No space left" in result.stderr
    assert not [p for p in world["archive"].parent.iterdir()]
    assert not [t for t in threading.enumerate() if t.name.startswith("archive-")]
    assert (world["stack"] / ".env").exists()  # nothing of the stack was touched


def test_keep_prunes_the_older_archives(run_cli, world):
    folder = world["archive"].parent
    folder.mkdir()
    for i in range(3):
        old = folder / f"stackctl-host-2020010{i}.tar.zst.age"
        old.write_bytes(b"x")
        os.utime(old, (1_600_000_000 + i, 1_600_000_000 + i))
    (folder / "unrelated.txt").write_text("mine")
    target = folder / "stackctl-host-new.tar.zst.age"
    result = run_cli(
        "backup", "greeter", "--passphrase-file", str(world["pw"]), "-o", str(target), "--keep", "2"
    )
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in folder.iterdir()) == [
        "stackctl-host-20200102.tar.zst.age",
        "stackctl-host-new.tar.zst.age",
        "unrelated.txt",
    ]


def test_the_archive_opens_with_the_zstd_and_tar_tools(run_cli, world, tmp_path):
    if shutil.which("zstd") is None:
        pytest.skip("Debian's zstd is not installed")
    import subprocess

    assert run_cli("backup", "greeter", "-o", str(world["archive"]), "--no-encrypt").exit_code == 0
    out = tmp_path / "opened"
    out.mkdir()
    subprocess.run(
        f"zstd -dc {world['archive']} | tar -x -C {out}",
        shell=True,
        check=True,
        capture_output=True,
    )
    assert (out / "dumps" / "greeter" / "web.sql").read_bytes() == DUMP
    assert (out / "stacks" / "greeter" / ".env").read_bytes() == (
        world["stack"] / ".env"
    ).read_bytes()
    assert io.BytesIO((out / "manifest.json").read_bytes()).read(1) == b"{"


def test_restore_with_deploy_loads_the_dump_and_starts_the_stack(run_cli, world):
    assert back_up(run_cli, world).exit_code == 0
    destroy(world)
    engine = world["engine"]
    done = run_cli(
        "restore", str(world["archive"]), "--passphrase-file", str(world["pw"]), "--deploy"
    )
    assert done.exit_code == 0, done.stderr
    assert engine.streamed_in == DUMP
    assert {
        c.service
        for c in engine.project_containers(open_stack("greeter", load_site()).names.project)
    } == {"web"}


def test_restore_deploy_json_ends_with_deploys_report(run_cli, world):
    assert back_up(run_cli, world).exit_code == 0
    destroy(world)
    done = run_cli(
        "restore",
        str(world["archive"]),
        "--passphrase-file",
        str(world["pw"]),
        "--deploy",
        "--json",
    )
    assert done.exit_code == 0, done.stderr
    (report,) = json.loads(done.stdout[done.stdout.index("[\n") :])  # as `deploy --json`
    assert report["stack"] == "greeter"
    assert "greeter/web: the dump is loaded by the next deploy" in done.stdout


def test_what_a_killed_backup_left_is_swept_by_the_next(run_cli, world):
    folder = world["archive"].parent
    folder.mkdir()
    dead = subprocess_pid_that_ended()
    left = [folder / f".old.tar.zst.age.partial-{dead}", folder / f".dump.partial-{dead}"]
    for path in left:
        path.write_bytes(b"half")
    running = folder / f".other.tar.zst.age.partial-{os.getpid()}"  # a backup under way
    running.write_bytes(b"busy")
    assert back_up(run_cli, world).exit_code == 0
    assert not any(p.exists() for p in left) and running.exists()


def subprocess_pid_that_ended() -> int:
    import subprocess

    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


def test_an_archive_for_a_recipient_opens_only_with_its_identity(run_cli, world, tmp_path):
    identity, recipient = age.new_identity()
    key = tmp_path / "key.txt"
    key.write_text(f"# created by the test\n{identity}\n")
    made = run_cli("backup", "greeter", "--recipient", recipient, "-o", str(world["archive"]))
    assert made.exit_code == 0, made.stderr
    env = (world["stack"] / ".env").read_bytes()
    destroy(world)
    other, _ = age.new_identity()
    (tmp_path / "other.txt").write_text(other + "\n")
    refused = run_cli("restore", str(world["archive"]), "--identity", str(tmp_path / "other.txt"))
    assert refused.exit_code != 0 and "none of the given identities" in refused.stderr
    assert not world["stack"].exists()
    done = run_cli("restore", str(world["archive"]), "--identity", str(key))
    assert done.exit_code == 0, done.stderr
    assert (world["stack"] / ".env").read_bytes() == env


def test_the_site_passphrase_file_is_used_when_no_key_is_given(run_cli, world):
    text = world["config"].read_text()
    world["config"].write_text(text + f'\n[backup]\npassphrase_file = "{world["pw"]}"\n')
    made = run_cli("backup", "greeter", "-o", str(world["archive"]))
    assert made.exit_code == 0, made.stderr
    assert members(world["archive"])["dumps/greeter/web.sql"] == DUMP


def test_deploy_backs_up_before_an_image_of_a_database_stack_changes(run_cli, world, tmp_path):
    folder = tmp_path / "nightly"
    engine = world["engine"]
    reference = next(iter(engine.images))
    engine.images[reference] = "sha256:" + "e" * 64  # a newer image of the same tag
    unset = run_cli("deploy", "greeter")
    assert unset.exit_code == 0, unset.stderr
    assert "no backup was taken" in unset.stderr

    engine.images[reference] = "sha256:" + "f" * 64
    text = world["config"].read_text()
    world["config"].write_text(
        text + f'\n[backup]\npassphrase_file = "{world["pw"]}"\nfolder = "{folder}"\n'
    )
    skipped = run_cli("deploy", "greeter", "--no-backup")
    assert skipped.exit_code == 0 and not folder.exists()

    engine.images[reference] = "sha256:" + "a" * 64
    engine.calls.clear()
    done = run_cli("deploy", "greeter")
    assert done.exit_code == 0, done.stderr
    (archive,) = folder.iterdir()
    assert archive.name.startswith("stackctl-greeter-")
    assert members(archive)["dumps/greeter/web.sql"] == DUMP
    verbs = engine.verbs()
    assert verbs.index("exec_stream") < verbs.index("compose_up")  # before the new image runs

    engine.calls.clear()
    again = run_cli("deploy", "greeter")  # nothing changes: no second archive
    assert again.exit_code == 0 and len(list(folder.iterdir())) == 1


def test_a_files_stopped_service_is_stopped_while_its_folder_is_copied(run_cli, world, tmp_path):
    from stackctl.recipe import all_recipes

    toml = tmp_path / "recipes" / "greeter" / "recipe.toml"
    toml.write_text(toml.read_text().replace('"postgres-dump"', '"files-stopped"'))
    all_recipes.cache_clear()
    (world["data"] / "db" / "library.db").write_bytes(b"SQLite format 3\0")
    engine = world["engine"]
    engine.calls.clear()
    assert back_up(run_cli, world).exit_code == 0
    inside = members(world["archive"])
    assert inside["data/greeter/db/library.db"] == b"SQLite format 3\0"
    assert not any(name.startswith("dumps/") for name in inside)
    verbs = engine.verbs()
    assert verbs.index("stop_container") < verbs.index("compose_up")
    assert [c[2] for c in engine.calls if c[0] == "compose_up"] == [("web",)]
    assert {
        c.state for c in engine.project_containers(open_stack("greeter", load_site()).names.project)
    } == {"running"}


def test_restoring_the_same_archive_twice_keeps_no_second_stack_and_deploys(run_cli, world):
    """A restore run again after it finished (a kill just before its end) moves the first
    copy aside; that copy must not count as a stack holding the same subnet."""
    assert back_up(run_cli, world).exit_code == 0
    destroy(world)
    for _ in range(2):
        again = run_cli("restore", str(world["archive"]), "--passphrase-file", str(world["pw"]))
        assert again.exit_code == 0, again.stderr
    aside = [p.name for p in world["stack"].parent.iterdir() if "before-restore" in p.name]
    assert len(aside) == 1 and aside[0].startswith("."), aside
    assert aside[0] in again.stdout  # the user is told where the old copy went
    engine = world["engine"]
    report = deploy(
        plan_to_apply(open_stack("greeter", load_site()), engine), engine, wait_seconds=0
    )
    assert report.plan.network.source == "state"
