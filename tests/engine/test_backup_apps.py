"""Backup, destroy, restore and deploy of Jellyfin and MAS on a real engine.

Jellyfin cannot be built here: `stackctl-test/jellyfin-standin` stands in for it (NOT
Jellyfin; it keeps its wizard state, users and API keys in /config as Jellyfin keeps its
SQLite library there). Its recipe backs /config up `files-stopped` and leaves the cache
(transcodes, images) out. MAS is the MAS stand-in (NOT MAS) on the real Postgres, beside
the real Synapse 1.163.2 and its real Postgres: two `postgres-dump`s, Synapse's data folder
as files, and MAS's signing keys, secret files owned by uid 65532 with mode 0600.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from stackctl.backup.archive import Keys, extract

from .conftest import docker, names, teardown_stack
from .test_jellyfin_wizard import deploy as deploy_jellyfin
from .test_jellyfin_wizard import (
    jellyfin,  # noqa: F401  the fixture
    standin_calls,
    steps,
)
from .test_mas_synapse import (
    KEYS,
    http,
    mas,  # noqa: F401  the fixture
)
from .test_mas_synapse import deploy as deploy_mas

pytestmark = pytest.mark.engine

PASSPHRASE = "apps in an archive"


def backup(run_cli, tmp_path: Path, stack: str) -> tuple[Path, Path, dict]:
    """The stack's archive, its passphrase file, and the archive's manifest."""
    pw = tmp_path / "pw"
    pw.write_text(PASSPHRASE)
    archive = tmp_path / "backups" / f"{stack}.tar.zst.age"
    done = run_cli("backup", stack, "--passphrase-file", str(pw), "-o", str(archive))
    assert done.exit_code == 0, done.stderr
    with archive.open("rb") as source:
        manifest = extract(source, Keys(passphrase=PASSPHRASE.encode()), None)
    return archive, pw, manifest


def destroy(tmp_path: Path, stack: str) -> None:
    """Nothing of the stack left: containers, network, volumes, folders, data, site config."""
    teardown_stack(tmp_path / "stacks" / f"docker-{stack}", stack)
    for folder in ("stacks", "data", "proxyroot"):
        shutil.rmtree(tmp_path / folder, ignore_errors=True)
    (tmp_path / "stackctl.toml").unlink()
    assert not docker("ps", "-aq", "--filter", f"name={names(stack).project}-").stdout.strip()


def restore(run_cli, archive: Path, pw: Path) -> None:
    done = run_cli("restore", str(archive), "--passphrase-file", str(pw))
    assert done.exit_code == 0, done.stderr


def owner_and_mode(path: Path) -> tuple[int, int, int]:
    info = path.stat()
    return info.st_uid, info.st_gid, info.st_mode & 0o7777


def wait_healthy(container: str, seconds: float = 90) -> str:
    deadline = time.monotonic() + seconds
    status = ""
    while time.monotonic() < deadline:
        status = docker("inspect", "-f", "{{.State.Health.Status}}", container).stdout.strip()
        if status == "healthy":
            break
        time.sleep(0.5)
    return status


def test_jellyfin_config_copied_stopped_cache_left_out(jellyfin, run_cli, tmp_path):  # noqa: F811
    deploy_jellyfin(run_cli)
    server = names("jellyfin").container("server")
    config, cache = jellyfin["data"] / "config", jellyfin["data"] / "cache"
    # what Jellyfin keeps: its SQLite library under config/data; rebuilt: cache/transcodes
    library = config / "data" / "library.db"
    library.parent.mkdir(exist_ok=True)
    library.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 64)
    shutil.chown(library.parent, 990, 990)
    shutil.chown(library, 990, 990)
    library.chmod(0o640)
    (cache / "transcodes").mkdir(parents=True, exist_ok=True)
    (cache / "transcodes" / "segment0.ts").write_bytes(b"\x47" * 188 * 100)
    state = (config / "standin-state.json").read_bytes()
    env = (jellyfin["stack_dir"] / ".env").read_bytes()
    started = json.loads(docker("inspect", server).stdout)[0]["State"]["StartedAt"]

    since = time.time()
    archive, pw, manifest = backup(run_cli, tmp_path, "jellyfin")
    until = time.time() + 1
    # files-stopped: the server was stopped for the copy and started again
    actions = docker(
        "events", "--since", f"{since:.3f}", "--until", f"{until:.3f}",
        "--filter", f"container={server}", "--format", "{{.Action}}",
    ).stdout.split()  # fmt: skip
    assert "stop" in actions and "start" in actions, actions
    assert actions.index("stop") < actions.index("start"), actions
    after = json.loads(docker("inspect", server).stdout)[0]["State"]
    assert after["Running"] and after["StartedAt"] != started
    assert wait_healthy(server) == "healthy"
    members = set(manifest["checksums"])
    assert "data/jellyfin/config/data/library.db" in members
    assert "data/jellyfin/config/standin-state.json" in members
    assert not [m for m in members if m.startswith("data/jellyfin/cache")]
    assert manifest["stacks"]["jellyfin"]["excluded"] == ["cache"]

    destroy(tmp_path, "jellyfin")
    restore(run_cli, archive, pw)
    assert library.read_bytes() == b"SQLite format 3\x00" + bytes(range(256)) * 64
    assert owner_and_mode(library) == (990, 990, 0o640)
    assert (config / "standin-state.json").read_bytes() == state
    assert (jellyfin["stack_dir"] / ".env").read_bytes() == env
    assert not (cache / "transcodes").exists()

    again = deploy_jellyfin(run_cli)
    # the wizard's work came back with /config: nothing to do, the stored API key answers
    assert steps(again)["first-run"][0] == "unchanged", again["steps"]
    assert not [c for c in standin_calls(jellyfin["port"]) if c["path"].startswith("/Startup/")]
    assert wait_healthy(server) == "healthy"


def test_mas_keys_and_both_databases_come_back(mas, run_cli, tmp_path):  # noqa: F811
    mas_names = names("mas")

    def psql(service: str, query: str) -> str:
        script = f'psql -qtA -U "$POSTGRES_USER" -d "$POSTGRES_DB" -c "{query}"'
        done = docker("exec", mas_names.container(service), "sh", "-c", script)
        return done.stdout.strip()

    first = deploy_mas(run_cli)
    assert first["outcome"]["admin"][0] == "changed"
    stack = mas["stack_dir"]
    secret_files = [*(stack / "mas" / "keys" / k for k in KEYS), stack / "mas" / "config.yaml"]
    secret_files.append(stack / "synapse" / "mas_secret")
    before = {p: (p.read_bytes(), owner_and_mode(p)) for p in secret_files}
    assert {before[stack / "mas" / "keys" / k][1] for k in KEYS} == {(65532, 65532, 0o600)}
    mas_users = psql("db", "SELECT id, username FROM standin_users ORDER BY id")
    synapse_users = psql("synapse-db", "SELECT name FROM users ORDER BY name")
    assert mas_users and synapse_users
    media = tmp_path / "data" / "mas" / "synapse" / "media_store" / "local_content" / "probe"
    media.parent.mkdir(parents=True, exist_ok=True)
    media.write_bytes(b"an uploaded file" * 64)

    archive, pw, manifest = backup(run_cli, tmp_path, "mas")
    assert set(manifest["stacks"]["mas"]["dumps"]) == {"db", "synapse-db"}
    members = set(manifest["checksums"])
    assert not [m for m in members if m.startswith(("data/mas/postgres", "data/mas/synapse-"))]

    destroy(tmp_path, "mas")
    restore(run_cli, archive, pw)
    # before deploy, whose ownership steps would mend a wrong owner or mode
    assert {p: (p.read_bytes(), owner_and_mode(p)) for p in secret_files} == before

    again = deploy_mas(run_cli)
    assert again["outcome"]["admin"] == ("skipped", "done earlier")
    assert psql("db", "SELECT id, username FROM standin_users ORDER BY id") == mas_users
    assert psql("synapse-db", "SELECT name FROM users ORDER BY name") == synapse_users
    assert media.read_bytes() == b"an uploaded file" * 64
    # the admin logs in with the first password: MAS's users came back from its dump
    password = run_cli("extract", "mas", "admin-password").stdout.strip()
    code, login, _ = http(
        f"http://127.0.0.1:{mas['ports']['port']}/_matrix/client/v3/login",
        "POST",
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": "admin"},
            "password": password,
        },
    )
    assert code == 200, login
