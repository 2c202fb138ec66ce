"""The `s3-objects` backup method against an in-process S3 server: objects listed page by
page and streamed into the archive, put back by the deploy after a restore before the app
starts, a stopped put-back finished by the next deploy; and the client calls on their own."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackctl import engine as engine_module
from stackctl import s3_objects
from stackctl.apply import plan_to_apply
from stackctl.backup import age
from stackctl.backup.s3_backup import _Places
from stackctl.commands.options import site as load_site
from stackctl.deploy import deploy
from stackctl.engine_fake import FakeEngine
from stackctl.recipe import use_recipe_paths
from stackctl.s3 import S3Endpoint, S3Error
from stackctl.stack import open_stack

from .fake_s3 import FakeS3
from .greeter import EXAMPLE
from .test_backup_flow import PASSPHRASE, members

KEY, SECRET = "test-key", "a secret key for the test server"
OBJECTS = {
    ("photos", "1580559962386438/a"): b"first" * 1000,
    ("photos", "1580559962386438/b c+d.jpg"): b"",
    ("photos", "1580559962386438/\u00e9t\u00e9"): bytes(range(256)) * 300,
    ("photos", "1580559962386438/z"): b"last",
    ("thumbs", "1580559962386438/a"): b"thumb",
}


@pytest.fixture
def server() -> Iterator[FakeS3]:
    with FakeS3(KEY, SECRET) as s3:
        yield s3


def endpoint(s3: FakeS3) -> S3Endpoint:
    return S3Endpoint("127.0.0.1", s3.port, KEY, SECRET, "eu-central-2")


def test_a_listing_is_read_page_by_page_with_every_key_as_stored(server) -> None:
    server.buckets["photos"] = {
        k: (d, "image/jpeg") for (b, k), d in OBJECTS.items() if b == "photos"
    }
    listed = list(s3_objects.list_objects(endpoint(server), "photos", page=2))
    assert [o.key for o in listed] == sorted(server.buckets["photos"])  # 4 keys, 2 pages
    assert [o.size for o in listed] == [len(server.buckets["photos"][o.key][0]) for o in listed]


def test_objects_stream_out_and_back_and_a_wrong_hash_is_refused(server) -> None:
    server.buckets["photos"] = {}
    data = b"x" * 3_000_000
    digest = hashlib.sha256(data).hexdigest()
    where = endpoint(server)
    s3_objects.put_object(
        where, "photos", "k/\u00e9", io.BytesIO(data), len(data), digest, "image/png"
    )
    with s3_objects.get_object(where, "photos", "k/\u00e9") as found:
        assert found is not None
        assert (found.size, found.content_type) == (len(data), "image/png")
        assert s3_objects.sha256_of(found.body) == digest
    assert s3_objects.head_object(where, "photos", "k/\u00e9") == (len(data), found.etag)
    with s3_objects.get_object(where, "photos", "gone") as missing:
        assert missing is None
    with pytest.raises(S3Error, match="XAmzContentSHA256Mismatch"):
        s3_objects.put_object(where, "photos", "k", io.BytesIO(data), len(data), "0" * 64)
    wrong = S3Endpoint("127.0.0.1", server.port, KEY, "not the secret", "eu-central-2")
    with pytest.raises(S3Error, match="403"):
        list(s3_objects.list_objects(wrong, "photos"))


def test_keys_that_are_no_plain_path_get_a_name_from_their_hash() -> None:
    places = _Places()
    assert places.place("b", "u/1") == "b/u/1"
    assert places.place("b", "u").startswith("b/.key-")  # "u" is a folder already
    assert places.place("b", "u/1/x").startswith("b/.key-")  # "u/1" is a file already
    for odd in ("../up", "/abs", "a//b", ".hidden", "a/./b"):
        assert places.place("b", odd).startswith("b/.key-"), odd
    assert places.place("other", "u") == "other/u"


@pytest.fixture
def world(site_file, tmp_path: Path, monkeypatch, server) -> Iterator[dict]:
    """A deployed greeter whose `web` is an S3 server (the in-process one): its bucket step
    reaches it at the container's address, its backup is `s3-objects`."""
    recipes = tmp_path / "recipes"
    shutil.copytree(EXAMPLE, recipes / "greeter")
    toml = recipes / "greeter" / "recipe.toml"
    text = toml.read_text().replace(
        'app_version = "1"', 'app_version = "1"\ndata_dirs = ["s3-data"]'
    )
    text = text.replace(
        'role = "answers',
        'backup = { method = "s3-objects", step = "buckets", exclude = ["s3-data"] }\nrole = "answers',
    )
    text += f"""
[[secrets]]
name = "GREETER_S3_SECRET"
format = "alnum"
length = 24
help = "the test's S3 secret key"

[[bootstrap]]
id = "buckets"
kind = "s3-buckets"
title = "buckets"
always = true
service = "web"
port = {server.port}
access_key = "GREETER_TOKEN"
secret_key = "GREETER_S3_SECRET"
region = "eu-central-2"
buckets = ["photos", "thumbs"]
"""
    toml.write_text(text)
    monkeypatch.setattr(age, "SCRYPT_WORK", 10)
    config = site_file(extra=f'recipe_paths = ["{recipes}"]\n[stacks.greeter]\nport = 18089\n')
    engine = FakeEngine()
    monkeypatch.setattr(engine_module, "open_engine", lambda: engine)
    stack = open_stack("greeter", load_site())
    address = {"Networks": {stack.names.network: {"IPAddress": "127.0.0.1"}}}
    engine.inspected[stack.names.container("web")] = {"NetworkSettings": address}
    stack.dir.mkdir(parents=True)
    (stack.dir / ".env").write_text(f"GREETER_TOKEN={KEY}\nGREETER_S3_SECRET={SECRET}\n")
    (stack.dir / ".env").chmod(0o600)
    deploy(plan_to_apply(stack, engine), engine, wait_seconds=0)
    (tmp_path / "pw").write_text(PASSPHRASE + "\n")
    yield {
        "engine": engine,
        "config": config,
        "stack": stack.dir,
        "data": tmp_path / "data" / "greeter",
        "pw": tmp_path / "pw",
        "archive": tmp_path / "out" / "site.tar.zst.age",
    }
    use_recipe_paths([])


def redeploy(world) -> object:
    engine = world["engine"]
    return deploy(plan_to_apply(open_stack("greeter", load_site()), engine), engine, wait_seconds=0)


def back_up_destroy_restore(run_cli, world, server) -> dict[str, bytes]:
    for (bucket, key), data in OBJECTS.items():
        server.buckets[bucket][key] = (data, "image/jpeg")
    (world["data"] / "s3-data").mkdir(parents=True, exist_ok=True)
    (world["data"] / "s3-data" / "xl.meta").write_bytes(b"the server's own format")
    done = run_cli(
        "backup",
        "greeter",
        "--passphrase-file",
        str(world["pw"]),
        "-o",
        str(world["archive"]),
        "--json",
    )
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["objects"] == {"greeter/web": len(OBJECTS)}
    inside = members(world["archive"])
    for path in (world["stack"].parent, world["data"].parent):
        shutil.rmtree(path)
    world["config"].unlink()
    world["engine"].containers_by_project.clear()
    world["engine"].networks_by_name.clear()
    server.buckets.clear()  # a fresh S3 server
    restored = run_cli("restore", str(world["archive"]), "--passphrase-file", str(world["pw"]))
    assert restored.exit_code == 0, restored.stderr
    return inside


def test_objects_go_into_the_archive_and_back_before_the_app_starts(run_cli, world, server):
    inside = back_up_destroy_restore(run_cli, world, server)
    for (bucket, key), data in OBJECTS.items():
        assert inside[f"s3/greeter/{bucket}/{key}"] == data
    assert not any(name.startswith("data/greeter/s3-data") for name in inside)
    index = json.loads(inside["s3/greeter/.index-web.json"])
    assert index["buckets"] == ["photos", "thumbs"]
    first = index["objects"][0]
    assert first["key"] == "1580559962386438/a" and first["content_type"] == "image/jpeg"
    assert first["sha256"] == hashlib.sha256(OBJECTS[("photos", first["key"])]).hexdigest()
    manifest = json.loads(inside["manifest.json"])["stacks"]["greeter"]
    assert manifest["objects"]["web"]["objects"] == len(OBJECTS)
    assert "s3-data" in manifest["excluded"] and "s3-data" not in manifest["data_dirs"]

    world["engine"].calls.clear()
    report = redeploy(world)
    assert report.objects_put == {"web": len(OBJECTS)}
    assert {
        (b, k): d for b, objects in server.buckets.items() for k, (d, _) in objects.items()
    } == OBJECTS
    assert server.buckets["photos"]["1580559962386438/a"][1] == "image/jpeg"
    # the S3 server was started alone for them (the whole stack starts after)
    ups = [c[2] for c in world["engine"].calls if c[0] == "compose_up"]
    assert ups[0] == ("web",)
    assert not (world["stack"] / ".stackctl" / "restore" / "s3").exists()
    assert redeploy(world).objects_put == {}


def test_an_object_cut_short_fails_the_backup_and_leaves_no_archive(run_cli, world, server):
    for (bucket, key), data in OBJECTS.items():
        server.buckets[bucket][key] = (data, "image/jpeg")
    server.cut.add("1580559962386438/z")
    done = run_cli(
        "backup", "greeter", "--passphrase-file", str(world["pw"]), "-o", str(world["archive"])
    )
    assert done.exit_code != 0
    assert "error: reading greeter's web through S3" in done.stderr and "bytes short" in done.stderr
    assert "Traceback" not in done.stderr
    assert not world["archive"].exists() and not list(world["archive"].parent.iterdir())


def test_a_stopped_put_back_goes_on_where_it_stopped(run_cli, world, server):
    back_up_destroy_restore(run_cli, world, server)
    server.fail_put_after = 2
    with pytest.raises(Exception, match="InternalError"):
        redeploy(world)
    assert len(server.puts) == 2
    report = redeploy(world)
    assert report.objects_put == {"web": len(OBJECTS) - 2}
    assert sorted(server.puts) == sorted(f"{b}/{k}" for b, k in OBJECTS)  # none put twice


def test_the_recipe_check_wants_an_s3_buckets_step_of_the_same_service() -> None:
    from stackctl.backup import spec

    problems: list[tuple[str, str]] = []
    raw = {
        "data_dirs": ["s3"],
        "services": {
            "minio": {"backup": {"method": "s3-objects", "step": "made", "data": ["s3"]}},
            "other": {"backup": {"method": "s3-objects", "step": "buckets", "buckets": ["x"]}},
            "db": {"backup": {"method": "files", "step": "buckets"}},
            "app": {"backup": {"method": "s3-objects"}},
        },
        "bootstrap": [
            {"id": "made", "kind": "exec", "service": "minio"},
            {"id": "buckets", "kind": "s3-buckets", "service": "other", "buckets": ["a"]},
        ],
    }
    spec.check(raw, lambda where, message: problems.append((where, message)))
    found = dict(problems)
    assert "names no s3-buckets bootstrap step" in found["services.minio.backup.step"]
    assert "'x' is not among" in found["services.other.backup.buckets"]
    assert "only an s3-objects backup" in found["services.db.backup.step"]
    assert "required" in found["services.app.backup.step"]
