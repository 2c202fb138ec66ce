"""Backup, destroy everything, restore from the archive alone, deploy: Ente on a real engine.

Postgres is real (its dump streamed out through `docker exec` and loaded into a fresh
cluster before museum starts); museum and the S3 server are the engine tests' stand-ins.
The S3 server's objects are backed up through the S3 API (`s3-objects`): listed, read into
the archive as `s3/ente/<bucket>/<key>`, and put back through the API into the fresh
server before museum starts; its data folder is not in the archive. The MinIO stand-in
answers the S3 calls the real MinIO answers (moto's S3), so this proves stackctl's side;
MinIO itself is not run here.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from boto3.s3.transfer import TransferConfig

from stackctl.backup.archive import Keys, extract

from .conftest import docker, names, teardown_ente
from .test_ente_e2e import deploy_json, inspect, s3_client
from .test_mastodon_bootstrap import mastodon  # noqa: F401  the fixture

NAMES = names("ente")
PASSPHRASE = "a passphrase for the engine test"

pytestmark = pytest.mark.engine


def psql(sql: str) -> str:
    script = f'psql -qtA -U "$POSTGRES_USER" -d "$POSTGRES_DB" -c "{sql}"'
    return docker("exec", NAMES.container("postgres"), "sh", "-c", script).stdout.strip()


def state_of(site: dict) -> dict:
    network = json.loads(docker("network", "inspect", NAMES.network).stdout)[0]
    museum = inspect(NAMES.container("museum"))["NetworkSettings"]["Networks"][NAMES.network]
    return {"subnet": network["IPAM"]["Config"][0]["Subnet"], "museum_ip": museum["IPAddress"]}


PART = 5 * 1024 * 1024  # S3's smallest multipart part
MULTIPART = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART)


def put_objects(site: dict) -> dict[tuple[str, str], bytes]:
    """Objects with known bytes in each of museum's buckets, as museum names them
    (USER_ID/FILE_ID), one sent in two multipart parts as the apps upload large files."""
    s3 = s3_client(site)
    objects = {
        (bucket, f"1580559962386438/{bucket}-{n}"): os.urandom(1000 + n * 4096)
        for bucket in ("b2-eu-cen", "wasabi-eu-central-2-v3", "scw-eu-fr-v3")
        for n in range(3)
    }
    for (bucket, key), data in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    large = ("b2-eu-cen", "1580559962386438/a-large-file")
    objects[large] = os.urandom(PART + 12345)
    s3.upload_fileobj(io.BytesIO(objects[large]), *large, Config=MULTIPART)
    return objects


def s3_view(site: dict) -> dict:
    """Every bucket's creation date and every object's key, size and ETag, through S3."""
    s3 = s3_client(site)
    view = {}
    for bucket in s3.list_buckets()["Buckets"]:
        listed = s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", [])
        view[bucket["Name"]] = {
            "created": bucket["CreationDate"],
            "objects": {o["Key"]: (o["Size"], o["ETag"]) for o in listed},
        }
    return view


def destroy_everything(site: dict, proxy_sites) -> None:
    teardown_ente(site["stack_dir"])
    project = NAMES.project
    for volume in docker(
        "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={project}"
    ).stdout.split():
        docker("volume", "rm", "-f", volume)
    for folder in ("stacks", "data", "proxyroot"):
        shutil.rmtree(site["tmp"] / folder, ignore_errors=True)
    site["path"].unlink()
    assert not docker("ps", "-aq", "--filter", f"name={project}-").stdout.strip()


def test_backup_destroy_restore_deploy(ente_site, run_cli, tmp_path, capsys):
    sites = ente_site["tmp"] / "proxyroot" / "etc" / "apache2" / "sites-available"
    sites.mkdir(parents=True)
    first = deploy_json(run_cli)
    assert [s["outcome"] for s in first["steps"]] == ["changed"]

    # data in every place: rows, S3 objects, files
    psql("CREATE TABLE probe (id int PRIMARY KEY, note text)")
    psql("INSERT INTO probe SELECT g, md5(g::text) FROM generate_series(1, 5000) g")
    (ente_site["data"] / "museum-data" / "probe.txt").write_text("a file in a data folder\n")
    objects = put_objects(ente_site)
    s3_before = s3_view(ente_site)
    assert sum(len(b["objects"]) for b in s3_before.values()) == len(objects) == 10
    assert "-2" in s3_before["b2-eu-cen"]["objects"]["1580559962386438/a-large-file"][1]
    stack = ente_site["stack_dir"]
    env = (stack / ".env").read_bytes()
    journal = json.loads((stack / ".stackctl" / "state.json").read_text())["journal"]
    before = state_of(ente_site)
    proxy_file = (sites / "stackctl-ente.conf").read_bytes()

    pw = tmp_path / "pw"
    pw.write_text(PASSPHRASE + "\n")
    archive = tmp_path / "backups" / "ente.tar.zst.age"
    started = time.monotonic()
    done = run_cli("backup", "ente", "--passphrase-file", str(pw), "-o", str(archive), "--json")
    assert done.exit_code == 0, done.stderr
    summary = json.loads(done.stdout)
    with capsys.disabled():  # run_cli captures the test's output
        print(
            f"backup: {summary['bytes']} bytes -> {summary['archive_bytes']} in {time.monotonic() - started:.1f} s"
        )
    assert summary["dumps"] == ["ente/postgres"]
    assert summary["objects"] == {"ente/minio": len(objects)}
    with archive.open("rb") as source:
        manifest = extract(source, Keys(passphrase=PASSPHRASE.encode()), None)
    # every object as a member of its own, checked by its SHA-256; MinIO's folder not at all
    ente = manifest["stacks"]["ente"]
    assert ente["objects"]["minio"]["objects"] == len(objects)
    assert "minio-data" in ente["excluded"] and "minio-data" not in ente["data_dirs"]
    assert not [m for m in manifest["checksums"] if m.startswith("data/ente/minio-data")]
    for (bucket, key), data in objects.items():
        assert manifest["checksums"][f"s3/ente/{bucket}/{key}"] == hashlib.sha256(data).hexdigest()
    assert "s3/ente/.index-minio.json" in manifest["checksums"]

    destroy_everything(ente_site, sites)
    sites.mkdir(parents=True)  # a fresh server with Apache installed
    started = time.monotonic()
    restored = run_cli("restore", str(archive), "--passphrase-file", str(pw))
    assert restored.exit_code == 0, restored.stderr
    again = deploy_json(run_cli)
    with capsys.disabled():  # run_cli captures the test's output
        print(f"restore + deploy: {time.monotonic() - started:.1f} s")

    assert (stack / ".env").read_bytes() == env
    assert (sites / "stackctl-ente.conf").read_bytes() == proxy_file
    # the buckets were made, and the objects put back, on the fresh S3 server before museum
    # started; ente's one step, an `always` check, finds every bucket there
    assert [(s["id"], s["outcome"], s["detail"]) for s in again["steps"]] == [
        ("buckets", "unchanged", "all buckets present")
    ]
    # the same buckets and objects, byte for byte through S3; a single-part object keeps its
    # ETag (its MD5), the multipart one comes back as one part (a new ETag, the same bytes)
    s3_after = s3_view(ente_site)
    assert s3_after.keys() == s3_before.keys()
    for bucket, view in s3_before.items():
        after = s3_after[bucket]["objects"]
        assert {k: size for k, (size, _) in after.items()} == {
            k: size for k, (size, _) in view["objects"].items()
        }
        for key, (_, etag) in view["objects"].items():
            if "-" not in etag:
                assert after[key][1] == etag, key
    s3 = s3_client(ente_site)
    for (bucket, key), data in objects.items():
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == data, key
    large = s3.head_object(Bucket="b2-eu-cen", Key="1580559962386438/a-large-file")
    assert (
        large["ETag"].strip('"')
        == hashlib.md5(objects[("b2-eu-cen", "1580559962386438/a-large-file")]).hexdigest()
    )
    last_put = max(
        o["LastModified"]
        for bucket in s3_after
        for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    )
    museum_started = inspect(NAMES.container("museum"))["State"]["StartedAt"]
    assert last_put.strftime("%Y-%m-%dT%H:%M:%S") <= museum_started[:19], "museum started first"
    assert not (stack / ".stackctl" / "restore" / "s3").exists()
    after = json.loads((stack / ".stackctl" / "state.json").read_text())["journal"]
    assert after.keys() == journal.keys() and all(e["status"] == "done" for e in after.values())
    assert psql("SELECT count(*), sum(length(note)) FROM probe") == "5000|160000"
    assert (
        ente_site["data"] / "museum-data" / "probe.txt"
    ).read_text() == "a file in a data folder\n"
    assert not (ente_site["data"] / "postgres-data" / ".stackctl").exists()
    assert state_of(ente_site) == before
    for service in ("museum", "postgres", "minio"):
        found = inspect(NAMES.container(service))["State"]
        assert found["Running"] and found.get("Health", {}).get("Status", "healthy") == "healthy"


def test_a_killed_backup_leaves_no_archive_and_a_killed_restore_finishes(
    ente_site, run_cli, tmp_path, capsys
):
    deploy_json(run_cli)
    psql("CREATE TABLE probe (id int)")
    psql("INSERT INTO probe SELECT generate_series(1, 200000)")
    pw = tmp_path / "pw"
    pw.write_text(PASSPHRASE)
    archive = tmp_path / "backups" / "ente.tar.zst.age"
    command = [sys.executable, "-m", "stackctl", "backup", "ente", "--passphrase-file", str(pw)]
    process = subprocess.Popen(
        [*command, "-o", str(archive)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(archive.parent.glob(".*partial*")):
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not archive.exists()

    done = run_cli("backup", "ente", "--passphrase-file", str(pw), "-o", str(archive))
    assert done.exit_code == 0, done.stderr
    env = (ente_site["stack_dir"] / ".env").read_bytes()
    destroy_everything(ente_site, None)
    restore = [
        sys.executable,
        "-m",
        "stackctl",
        "restore",
        str(archive),
        "--passphrase-file",
        str(pw),
    ]
    process = subprocess.Popen(restore, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = ente_site["tmp"] / "stacks" / ".stackctl-restore.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not journal.exists() and process.poll() is None:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    with capsys.disabled():  # run_cli captures the test's output
        print(f"restore killed {'halfway' if journal.exists() else 'before or after its put-back'}")
    finished = run_cli("restore", str(archive), "--passphrase-file", str(pw))
    assert finished.exit_code == 0, finished.stderr
    assert not journal.exists()
    assert (ente_site["stack_dir"] / ".env").read_bytes() == env
    deploy_json(run_cli)
    assert psql("SELECT count(*) FROM probe") == "200000"


def test_a_restore_onto_a_server_with_other_secrets_refuses(ente_site, run_cli, tmp_path):
    deploy_json(run_cli)
    pw = tmp_path / "pw"
    pw.write_text(PASSPHRASE)
    archive = tmp_path / "backups" / "ente.tar.zst.age"
    assert (
        run_cli("backup", "ente", "--passphrase-file", str(pw), "-o", str(archive)).exit_code == 0
    )
    teardown_ente(ente_site["stack_dir"])
    env = ente_site["stack_dir"] / ".env"
    env.write_text(env.read_text().replace("ENTE_KEY_ENCRYPTION=", "ENTE_KEY_ENCRYPTION=x", 1))
    mine = env.read_bytes()
    refused = run_cli("restore", str(archive), "--passphrase-file", str(pw))
    assert refused.exit_code != 0 and "ENTE_KEY_ENCRYPTION" in refused.stderr
    assert env.read_bytes() == mine


def test_mastodon_comes_back_without_a_second_owner(mastodon, run_cli, tmp_path):  # noqa: F811
    from .test_mastodon_bootstrap import NAMES as M
    from .test_mastodon_bootstrap import deploy as deploy_mastodon
    from .test_mastodon_bootstrap import sql, teardown

    first = deploy_mastodon(run_cli)
    assert first["outcome"]["owner"][0] == "changed"
    sql("CREATE TABLE probe AS SELECT g AS id FROM generate_series(1, 3000) g")
    media = mastodon["data"] / "public" / "system" / "media_attachments" / "one.png"
    media.parent.mkdir(parents=True, exist_ok=True)
    media.write_bytes(b"\x89PNG not really" * 100)
    users = sql("SELECT id, encrypted_password FROM users ORDER BY id")
    stack = mastodon["stack_dir"]
    env = (stack / ".env").read_bytes()

    def web_ip() -> str:
        return inspect(M.container("web"))["NetworkSettings"]["Networks"][M.network]["IPAddress"]

    before = web_ip()

    pw = tmp_path / "pw"
    pw.write_text(PASSPHRASE)
    archive = tmp_path / "backups" / "mastodon.tar.zst.age"
    done = run_cli("backup", "mastodon", "--passphrase-file", str(pw), "-o", str(archive))
    assert done.exit_code == 0, done.stderr

    teardown(stack)
    for folder in ("stacks", "data"):
        shutil.rmtree(tmp_path / folder)
    mastodon["path"].unlink()
    restored = run_cli("restore", str(archive), "--passphrase-file", str(pw))
    assert restored.exit_code == 0, restored.stderr
    again = deploy_mastodon(run_cli)

    assert (stack / ".env").read_bytes() == env
    assert again["outcome"]["owner"] == ("skipped", "done earlier")
    assert sql("SELECT id, encrypted_password FROM users ORDER BY id") == users
    assert sql("SELECT count(*) FROM probe") == "3000"
    assert media.read_bytes() == b"\x89PNG not really" * 100
    assert web_ip() == before
    assert not (stack / ".stackctl" / "restore").exists() or not any(
        (stack / ".stackctl" / "restore").iterdir()
    )


def test_a_deploy_killed_while_putting_objects_back_goes_on_without_putting_one_twice(
    ente_site, run_cli, tmp_path
):
    deploy_json(run_cli)
    s3 = s3_client(ente_site)
    objects = {
        ("b2-eu-cen", f"1580559962386438/resumed-{n}"): os.urandom(20_000 + n * 3000)
        for n in range(40)
    }
    for (bucket, key), data in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    pw = tmp_path / "pw"
    pw.write_text(PASSPHRASE)
    archive = tmp_path / "backups" / "ente.tar.zst.age"
    done = run_cli("backup", "ente", "--passphrase-file", str(pw), "-o", str(archive))
    assert done.exit_code == 0, done.stderr
    destroy_everything(ente_site, None)
    restored = run_cli("restore", str(archive), "--passphrase-file", str(pw))
    assert restored.exit_code == 0, restored.stderr

    # the first deploy is killed once the journal lists a few objects put back
    journal = ente_site["stack_dir"] / ".stackctl" / "restore" / "s3" / ".index-minio.json.done"
    process = subprocess.Popen(
        [sys.executable, "-m", "stackctl", "deploy", "ente", "--wait", "180"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the whole group dies, compose CLI included
    )
    deadline = time.monotonic() + 120
    try:
        while not (journal.exists() and journal.read_text().count("\n") >= 5):
            if process.poll() is not None:
                pytest.fail(f"deploy ended first:\n{process.stdout.read().decode()}")
            assert time.monotonic() < deadline, "no object was put back"
            time.sleep(0.002)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    put_before_the_kill = {json.loads(line) for line in journal.read_text().splitlines()}
    assert 5 <= len(put_before_the_kill) < len(objects), "the kill came after the last object"
    minio = docker("inspect", "-f", "{{.Id}}", NAMES.container("minio")).stdout

    deploy_json(run_cli)

    for (bucket, key), data in objects.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data, key
    assert not journal.exists()
    # the S3 server's own request log, one container across both deploys: an object journaled
    # before the kill is never sent again; at most the one in flight at the kill is sent twice
    assert docker("inspect", "-f", "{{.Id}}", NAMES.container("minio")).stdout == minio
    shown = docker("logs", NAMES.container("minio"))
    log = shown.stdout + shown.stderr
    puts = {key: log.count(f'"PUT /{bucket}/{key} HTTP') for bucket, key in objects}
    journaled = {k for k in puts if f"s3/ente/b2-eu-cen/{k}" in put_before_the_kill}
    assert len(journaled) == len(put_before_the_kill)
    assert all(puts[k] == 1 for k in journaled), puts
    assert all(puts[k] >= 1 for k in puts) and sum(puts.values()) <= len(objects) + 1, puts
