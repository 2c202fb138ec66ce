"""Ente end to end on a real engine: deploy, idempotent redeploy, extractors, actions, resume.

Stand-ins (museum, MinIO on a real S3 server, web, CLI) are used where the upstream image
cannot be built here; Postgres is real. These tests prove stackctl's side of the contract,
not Ente itself.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import boto3
import pytest
import yaml

from stackctl.envfile import read_env
from stackctl.logs import strip_ansi

from .conftest import docker, names

NAMES = names("ente")  # this run's engine names for the stack

pytestmark = pytest.mark.engine


def post(port: int, path: str, body: dict, headers: dict | None = None) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def s3_client(site: dict):
    env = read_env(site["stack_dir"] / ".env")
    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{site['ports']['s3_port']}",
        aws_access_key_id=env["ENTE_MINIO_KEY"],
        aws_secret_access_key=env["ENTE_MINIO_SECRET"],
        region_name="eu-central-2",
    )


def inspect(name: str) -> dict:
    return json.loads(docker("inspect", name).stdout)[0]


def deploy_json(run_cli) -> dict:
    result = run_cli("deploy", "ente", "--json", "--wait", "180")
    assert result.exit_code == 0, result.stderr
    (report,) = json.loads(result.stdout[result.stdout.index("[\n") :])  # one list shape
    return report


def test_deploy_twice_then_extract_and_act(ente_site, run_cli):
    # Apache is "installed" under the proxy root: deploy puts the vhosts where it reads them
    sites = ente_site["tmp"] / "proxyroot" / "etc" / "apache2" / "sites-available"
    sites.mkdir(parents=True)
    first = deploy_json(run_cli)
    installed = sites / "stackctl-ente.conf"
    assert {p["path"]: p["action"] for p in first["proxy_files"]} == {str(installed): "create"}
    assert "ServerName ente.test.lan" in installed.read_text()
    assert first["changed"] and first["network_created"]
    assert {f["path"]: f["action"] for f in first["files"]}["docker-compose.yml"] == "create"
    assert [s["outcome"] for s in first["steps"]] == ["changed"]

    # secrets: mode 0600, exact formats, never in the compose file
    env_path = ente_site["stack_dir"] / ".env"
    assert oct(env_path.stat().st_mode & 0o777) == "0o600"
    env = read_env(env_path)
    assert env["ENTE_KEY_HASH"] not in (ente_site["stack_dir"] / "docker-compose.yml").read_text()

    # the network has the planned subnet, and museum its fixed address
    plan = first["network"]
    network = json.loads(docker("network", "inspect", NAMES.network).stdout)[0]
    assert network["IPAM"]["Config"][0]["Subnet"] == plan["subnet"]
    museum_ip = inspect(NAMES.container("museum"))["NetworkSettings"]["Networks"][NAMES.network][
        "IPAddress"
    ]
    assert museum_ip == plan["ips"]["museum"]

    # the three hard-coded buckets exist on the S3 server
    names = {b["Name"] for b in s3_client(ente_site).list_buckets()["Buckets"]}
    assert names == {"b2-eu-cen", "wasabi-eu-central-2-v3", "scw-eu-fr-v3"}

    # museum answers through its published port, with the keys stackctl generated
    with urllib.request.urlopen(
        f"http://127.0.0.1:{ente_site['ports']['api_port']}/ping", timeout=5
    ) as r:
        assert json.load(r)["message"] == "pong"

    # second deploy: nothing changes, containers are the same ones
    ids = {n: inspect(n)["Id"] for n in map(NAMES.container, ("museum", "postgres", "minio"))}
    second = deploy_json(run_cli)
    assert not second["changed"], second
    assert all(f["action"] == "identical" for f in second["files"])
    assert {n: inspect(n)["Id"] for n in ids} == ids
    human = run_cli("deploy", "ente")
    assert "nothing changed" in human.stdout
    assert [p["action"] for p in second["proxy_files"]] == ["identical"]

    # a hand edit of the installed vhost is a conflict: the deploy stops before writing anything
    installed.write_text(installed.read_text() + "# local tweak\n")
    refused = run_cli("deploy", "ente")
    assert refused.exit_code == 3 and "stackctl-ente.conf" in refused.stderr
    assert installed.read_text().endswith("# local tweak\n")
    installed.write_text(installed.read_text().removesuffix("# local tweak\n"))

    # one-time codes read from the real container log stream
    api = ente_site["ports"]["api_port"]
    post(api, "/users/ott", {"email": "me@home.lan", "purpose": "signup"})
    assert run_cli("extract", "ente", "ott", "ME@home.lan").stdout.strip() == "123456"
    post(api, "/users/ott", {"email": "friend@foo.bar", "purpose": "signup"})
    found = run_cli("extract", "ente", "ott", "friend@foo.bar", "--json")
    code = json.loads(found.stdout)[-1]["value"]
    assert len(code) == 6 and code.isdigit()
    assert (
        f"friend@foo.bar: Verification code: {code}"
        in docker("logs", NAMES.container("museum")).stderr
    )

    # --wait watches for a code that arrives later
    threading.Timer(
        2.0, post, (api, "/users/ott", {"email": "late@foo.bar", "purpose": "signup"})
    ).start()
    late = subprocess.run(
        [
            sys.executable,
            "-m",
            "stackctl",
            "extract",
            "ente",
            "ott",
            "late@foo.bar",
            "--wait",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert late.returncode == 0, late.stderr
    assert len(late.stdout.strip()) == 6

    missing = run_cli("extract", "ente", "ott", "nobody@foo.bar")
    assert missing.exit_code == 1 and "no ott for nobody@foo.bar" in missing.stderr

    # account ids seen in the request log
    post(
        api,
        "/users/ott",
        {"email": "me@home.lan", "purpose": "login"},
        {"X-Auth-User-ID": "5551234567654321"},
    )
    assert run_cli("extract", "ente", "user-ids").stdout.split() == ["5551234567654321"]

    # grep strips colour codes and finds the hard-coded OTT lines
    grep = run_cli("logs", "ente", "museum", "--grep", "SendEmailOTT")
    assert (
        "Added hard coded ott for me@home.lan : 123456" in grep.stdout and "\x1b" not in grep.stdout
    )

    # promote an account: museum.yaml gets it, museum restarts and reads it
    started = inspect(NAMES.container("museum"))["State"]["StartedAt"]
    promoted = run_cli("run", "ente", "promote-admin", "5551234567654321")
    assert promoted.exit_code == 0, promoted.stderr
    museum_yaml = yaml.safe_load((ente_site["stack_dir"] / "museum.yaml").read_text())
    assert museum_yaml["internal"]["admins"] == [5551234567654321]
    assert inspect(NAMES.container("museum"))["State"]["StartedAt"] != started
    deadline = time.monotonic() + 30
    while "admins=[5551234567654321]" not in strip_ansi(
        docker("logs", NAMES.container("museum")).stderr
    ):
        assert time.monotonic() < deadline, "museum did not read the new admin list"
        time.sleep(0.5)
    again = run_cli("run", "ente", "promote-admin", "5551234567654321")
    assert "nothing changed" in again.stdout

    # lift storage limits through the CLI service (stand-in CLI records its argv)
    lifted = run_cli("run", "ente", "lift-limits", "friend@foo.bar")
    assert lifted.exit_code == 0, lifted.stderr
    calls = (ente_site["data"] / "cli-data" / "standin-calls.log").read_text().splitlines()
    assert json.loads(calls[-1])[-5:] == [
        "update-subscription",
        "-u",
        "friend@foo.bar",
        "--no-limit",
        "True",
    ]

    # after the action the files stackctl wrote are still its own: nothing to change
    third = deploy_json(run_cli)
    assert all(f["action"] == "identical" for f in third["files"]) and not third["network_created"]

    # status, images and network plan, for scripts
    status = json.loads(run_cli("status", "ente", "--json").stdout)
    assert {r["service"]: r["state"] for r in status} == {
        s: "running" for s in ("museum", "socat", "postgres", "minio", "web", "cli")
    }
    images = json.loads(run_cli("images", "list", "ente", "--json").stdout)
    museum_image = next(i for i in images if i["service"] == "museum")
    assert (
        museum_image["upstream"] == "ghcr.io/ente/server:0472c929b6070e61fecaf2013d47efce2dcda462"
    )
    assert (
        museum_image["image"] == "stackctl-test/museum-standin:latest" and museum_image["present"]
    )
    planned = json.loads(run_cli("network", "plan", "ente", "--json").stdout)[0]
    assert (planned["subnet"], planned["status"], planned["from"]) == (
        first["network"]["subnet"],
        "exists",
        "state",
    )

    # down keeps data, secrets and files; the next deploy brings the same stack back
    assert run_cli("down", "ente").exit_code == 0
    assert run_cli("status", "ente", "--json").stdout.strip() == "[]"
    assert (
        read_env(env_path) == env and (ente_site["data"] / "postgres-data" / "PG_VERSION").exists()
    )
    # a reinstall: the engine has forgotten the network; the restored folders bring it all back
    docker("network", "rm", NAMES.network)
    result = run_cli("deploy", "--all", "--json", "--wait", "180")
    assert result.exit_code == 0, result.stderr
    (back,) = json.loads(result.stdout[result.stdout.index("[\n") :])
    assert back["stack"] == "ente" and back["network_created"] and not back["secrets_created"]
    assert back["network"]["subnet"] == first["network"]["subnet"]
    assert (
        inspect(NAMES.container("museum"))["NetworkSettings"]["Networks"][NAMES.network][
            "IPAddress"
        ]
        == museum_ip
    )
    assert read_env(env_path) == env


def test_deploy_killed_mid_bootstrap_resumes(ente_site, run_cli):
    deploy_json(run_cli)
    s3_client(ente_site).delete_bucket(Bucket="scw-eu-fr-v3")
    # freeze the S3 server: the bucket step now hangs inside its first request
    docker("kill", "-s", "STOP", NAMES.container("minio"))
    try:
        process = subprocess.Popen(
            # --recheck: the stack still runs as when the bucket check passed, so a plain
            # deploy would skip it; the resumed deploy below is a plain one
            [sys.executable, "-m", "stackctl", "deploy", "ente", "--recheck"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
        state_path = ente_site["stack_dir"] / ".stackctl" / "state.json"
        deadline = time.monotonic() + 60
        while (
            json.loads(state_path.read_text())["journal"].get("buckets", {}).get("status")
            != "started"
        ):
            assert time.monotonic() < deadline and process.poll() is None, (
                process.stdout.read().decode() if process.poll() is not None else "timeout"
            )
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        docker("kill", "-s", "CONT", NAMES.container("minio"))
    assert json.loads(state_path.read_text())["journal"]["buckets"]["status"] == "started"
    resumed = deploy_json(run_cli)
    assert [s["detail"] for s in resumed["steps"]] == ["created scw-eu-fr-v3"]
    assert json.loads(state_path.read_text())["journal"]["buckets"]["status"] == "done"
    assert "scw-eu-fr-v3" in {b["Name"] for b in s3_client(ente_site).list_buckets()["Buckets"]}
