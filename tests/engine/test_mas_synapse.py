"""MAS wired to the real Synapse, on a real engine.

Synapse is the real Synapse 1.163.2 (matrix-synapse from PyPI, tests/images/synapse). MAS
cannot be built here: `stackctl-test/mas-standin` stands in for it (tests/images/mas-standin,
NOT MAS) and honours the contract Synapse relies on: token introspection and the MAS API of
Synapse, both with the shared secret. So these tests prove stackctl's wiring and the real
Synapse's side; MAS's own behaviour is not verified.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from stackctl.names import PROJECT_LABEL
from stackctl.paths import stacks_dir

from .conftest import docker, free_port, names, teardown_stack

pytestmark = pytest.mark.engine

NAMES = names("mas")
# what the tests start by hand is swept with this run's leftovers if a test is killed
RUN_ONE_OFF = ["--label", f"{PROJECT_LABEL}={NAMES.project}-check"]
MAS_STANDIN = "stackctl-test/mas-standin:latest"
SYNAPSE = "stackctl-test/synapse:v1.163.2"
IMAGES = {
    "ghcr.io/element-hq/matrix-authentication-service": MAS_STANDIN,
    # no tag on the right: the recipe's tag (v1.163.2) is kept
    "matrixdotorg/synapse": "stackctl-test/synapse",
    "postgres": "stackctl-test/postgres:15",
}
KEYS = {
    "rsa.pem": ("rsa", None),
    "ec-p256.pem": ("ec", "secp256r1"),
    "ec-p384.pem": ("ec", "secp384r1"),
    "ec-k256.pem": ("ec", "secp256k1"),
}


def _need_images() -> None:
    for image in (MAS_STANDIN, SYNAPSE):
        if docker("image", "inspect", image, check=False).returncode:
            pytest.fail(
                f"test image {image} missing: bash tests/images/build.sh synapse mas-standin"
            )


def http(
    url: str, method: str = "GET", body: dict | None = None, token: str = ""
) -> tuple[int, dict, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw, code, headers = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        raw, code, headers = exc.read(), exc.code, dict(exc.headers)
    except OSError as exc:  # not listening yet (a published port resets the connection)
        return 0, {"error": str(exc)}, {}
    try:
        return code, json.loads(raw or b"{}"), headers
    except ValueError:
        return code, {"raw": raw.decode(errors="replace")}, headers


@pytest.fixture
def mas(tmp_path, engine_ready, site_file):
    _need_images()
    ports = {"port": free_port(), "health_port": free_port(), "synapse_port": free_port()}
    table = "[stacks.mas]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in ports.items())
    site_file(extra=table, images=IMAGES)
    stack_dir = tmp_path / "stacks" / "docker-mas"
    teardown_stack(stack_dir, "mas")
    yield {"ports": ports, "stack_dir": stack_dir}
    teardown_stack(stack_dir, "mas")


def deploy(run_cli) -> dict:
    result = run_cli("deploy", "mas", "--json", "--wait", "240")
    assert result.exit_code == 0, result.stdout + result.stderr
    (report,) = json.loads(result.stdout[result.stdout.index("[\n") :])  # one list shape
    report["stderr"] = result.stderr
    report["outcome"] = {s["id"]: (s["outcome"], s["detail"]) for s in report["steps"]}
    return report


def whoami(port: int, token: str) -> tuple[int, dict]:
    code, body, _ = http(f"http://127.0.0.1:{port}/_matrix/client/v3/account/whoami", token=token)
    return code, body


def test_synapse_delegates_to_mas_with_the_secret_stackctl_wrote(mas, run_cli):
    ports, stack_dir = mas["ports"], mas["stack_dir"]
    report = deploy(run_cli)
    assert "Configuration file looks good" in report["outcome"]["config-check"][1]
    assert report["outcome"]["admin"][0] == "changed", report["outcome"]
    assert "password (shown once)" in report["stderr"]

    # Synapse runs with delegation on, reading the shared secret from the file stackctl wrote
    homeserver = yaml.safe_load((stack_dir / "synapse" / "homeserver.yaml").read_text())
    assert homeserver["matrix_authentication_service"]["secret_path"] == "/config/mas_secret"
    secret = (stack_dir / "synapse" / "mas_secret").read_text().strip()
    env = dict(
        line.split("=", 1) for line in (stack_dir / ".env").read_text().splitlines() if "=" in line
    )
    assert env["MATRIX_SECRET"].strip("'\"") == secret
    synapse = f"http://127.0.0.1:{ports['synapse_port']}"
    code, metadata, _ = http(f"{synapse}/_matrix/client/v1/auth_metadata")
    assert code == 200 and metadata["issuer"] == "https://auth.test.lan/", metadata

    # Synapse's MAS API answers the shared secret only
    query = f"{synapse}/_synapse/mas/query_user?localpart=admin"
    assert http(query, token=secret)[0] == 200  # the admin register-user provisioned
    assert http(query, token="not-the-secret")[0] in (401, 403)

    # a bearer token is introspected against MAS (the stand-in) with that secret
    password = run_cli("extract", "mas", "admin-password").stdout.strip()
    code, login, headers = http(
        f"http://127.0.0.1:{ports['port']}/_matrix/client/v3/login",
        "POST",
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": "admin"},
            "password": password,
        },
    )
    assert code == 200 and headers.get("X-Mas-Standin") == "1", login
    code, me = whoami(ports["synapse_port"], login["access_token"])
    assert (code, me.get("user_id")) == (200, "@admin:test.lan"), me
    assert whoami(ports["synapse_port"], "mct_unknown")[0] == 401

    # with another secret in its file, Synapse's introspection is refused by MAS
    secret_file = stack_dir / "synapse" / "mas_secret"
    original = secret_file.read_bytes()
    try:
        secret_file.write_bytes(b"a-wrong-shared-secret")
        docker("restart", NAMES.container("synapse"))
        _wait_healthy(NAMES.container("synapse"))
        code, body = whoami(ports["synapse_port"], login["access_token"])
        assert code >= 500 and "introspect" in json.dumps(body).lower(), (code, body)
    finally:
        secret_file.write_bytes(original)
        docker("restart", NAMES.container("synapse"))
        _wait_healthy(NAMES.container("synapse"))
    assert whoami(ports["synapse_port"], login["access_token"])[0] == 200

    # user ids from the `User registered user.id=...` line
    ids = run_cli("extract", "mas", "user-ids").stdout.split()
    assert len(ids) == 1 and len(ids[0]) == 26


def test_key_files_are_mas_types_owned_by_65532_and_kept_by_a_second_deploy(mas, run_cli):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    stack_dir = mas["stack_dir"]
    deploy(run_cli)
    keys = stack_dir / "mas" / "keys"
    first = {}
    for name, (family, curve) in KEYS.items():
        path = keys / name
        info = path.stat()
        assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (65532, 65532, 0o600), name
        data = path.read_bytes()
        key = serialization.load_pem_private_key(data, None)
        if family == "rsa":
            assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
            assert data.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
        else:
            assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == curve
            assert data.startswith(b"-----BEGIN EC PRIVATE KEY-----")
        first[name] = data
    config = stack_dir / "mas" / "config.yaml"
    info = config.stat()
    assert (info.st_uid, info.st_mode & 0o777) == (65532, 0o600)
    again = deploy(run_cli)
    assert {name: (keys / name).read_bytes() for name in KEYS} == first
    assert again["outcome"].get("admin", ("",))[0] != "changed"  # registered once
    # the MAS user reads them; another user cannot
    probe = ["docker", "run", "--rm", "--entrypoint", "cat", "-v", f"{keys}/rsa.pem:/k.pem:ro"]
    assert (
        subprocess.run(
            [*probe[:3], "--user", "65532:65532", *probe[3:], MAS_STANDIN, "/k.pem"],
            capture_output=True,
        ).stdout
        == first["rsa.pem"]
    )
    assert (
        subprocess.run(
            [*probe[:3], "--user", "1000:1000", *probe[3:], MAS_STANDIN, "/k.pem"],
            capture_output=True,
        ).returncode
        != 0
    )


def _wait_healthy(container: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = docker(
            "inspect", "-f", "{{.State.Health.Status}}", container, check=False
        ).stdout.strip()
        if state == "healthy":
            return
        time.sleep(1)
    raise AssertionError(f"{container} not healthy in {seconds}s")


# -- check-synapse against the real Synapse -----------------------------------------------------


def _cases():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "synapse_cases", stacks_dir() / "mas" / "tests" / "synapse_cases.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.REFUSED, module.ACCEPTED


REFUSED, ACCEPTED = _cases()
PROVIDER = "class Provider:\n    def __init__(self, config, api):\n        pass\n\n    @staticmethod\n    def parse_config(config):\n        return config\n"


def _homeserver(folder: Path, fragment: dict) -> Path:
    """A minimal homeserver on SQLite with stackctl's MAS block and `fragment` merged in."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mas_secret").write_text("S" * 32)
    (folder / "consent").mkdir(exist_ok=True)
    (folder / "stackctl_test_provider.py").write_text(PROVIDER)
    config = {
        "server_name": "test.lan",
        "report_stats": False,
        "pid_file": "/data/homeserver.pid",
        "signing_key_path": "/data/signing.key",
        "media_store_path": "/data/media_store",
        "database": {"name": "sqlite3", "args": {"database": "/data/homeserver.db"}},
        "listeners": [
            {
                "port": 8008,
                "type": "http",
                "tls": False,
                "bind_addresses": ["0.0.0.0"],
                "resources": [{"names": ["client"]}],
            }
        ],
        "trusted_key_servers": [],
        "matrix_authentication_service": {
            "enabled": True,
            "endpoint": "http://127.0.0.1:8080/",
            "secret_path": "/data/mas_secret",
        },
        **fragment,
    }
    path = folder / "homeserver.yaml"
    path.write_text(yaml.safe_dump(config))
    for entry in [folder, *folder.iterdir()]:
        os.chown(entry, 991, 991)
    return path


def _synapse(folder: Path, detach: bool = False) -> subprocess.CompletedProcess[str]:
    args = [
        "run",
        "--rm",
        *RUN_ONE_OFF,
        "-e",
        "SYNAPSE_CONFIG_PATH=/data/homeserver.yaml",
        "-e",
        "PYTHONPATH=/data",
        "-v",
        f"{folder}:/data",
    ]
    return docker(*args, *(["-d"] if detach else []), SYNAPSE, check=False)


@pytest.mark.parametrize(
    ("case", "fragment", "key", "message"), REFUSED, ids=[c[0] for c in REFUSED]
)
def test_real_synapse_refuses_what_check_synapse_flags(
    case, fragment, key, message, tmp_path, engine_ready, site_file, run_cli
):
    _need_images()
    site_file()
    path = _homeserver(tmp_path / "synapse", fragment)
    checked = run_cli("run", "mas", "check-synapse", str(path))
    assert checked.exit_code == 1 and key in checked.stderr, checked.stderr
    started = subprocess.run(
        [
            "timeout",
            "120",
            "docker",
            "run",
            "--rm",
            *RUN_ONE_OFF,
            "-e",
            "SYNAPSE_CONFIG_PATH=/data/homeserver.yaml",
            "-e",
            "PYTHONPATH=/data",
            "-v",
            f"{tmp_path / 'synapse'}:/data",
            SYNAPSE,
        ],
        capture_output=True,
        text=True,
    )
    output = started.stdout + started.stderr
    assert started.returncode not in (0, 124), output[-2000:]
    assert message in output, output[-2000:]


@pytest.mark.parametrize(("case", "fragment"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_real_synapse_starts_on_what_check_synapse_passes(
    case, fragment, tmp_path, engine_ready, site_file, run_cli
):
    _need_images()
    site_file()
    path = _homeserver(tmp_path / "synapse", fragment)
    checked = run_cli("run", "mas", "check-synapse", str(path))
    assert checked.exit_code == 0, checked.stderr
    container = _synapse(tmp_path / "synapse", detach=True).stdout.strip()
    assert container, "synapse did not start"
    try:
        deadline = time.monotonic() + 120
        while True:
            running = docker(
                "inspect", "-f", "{{.State.Running}}", container, check=False
            ).stdout.strip()
            assert running == "true", docker("logs", container, check=False).stderr[-2000:]
            done = docker(
                "exec", container, "curl", "-fsS", "http://localhost:8008/health", check=False
            )
            if done.stdout.strip() == "OK":
                break
            assert time.monotonic() < deadline, "Synapse never answered /health"
            time.sleep(1)
    finally:
        docker("rm", "-f", container, check=False)


def test_an_existing_synapse_with_stackctls_block_delegates(
    tmp_path, engine_ready, site_file, run_cli
):
    """synapse = existing: a plain homeserver.yaml plus the rendered synapse/mas.yaml as a second
    config file, and the secret file stackctl wrote: the real Synapse starts delegating."""
    _need_images()
    site_file(
        extra='[stacks.mas]\nsynapse = "existing"\nsynapse_endpoint = "http://10.0.0.5:8008/"\n'
    )
    assert run_cli("render", "mas").exit_code == 0
    stack_dir = tmp_path / "stacks" / "docker-mas"
    folder = tmp_path / "existing"
    base = _homeserver(folder, {})
    config = yaml.safe_load(base.read_text())
    del config["matrix_authentication_service"]  # the user's own file knows nothing of MAS
    base.write_text(yaml.safe_dump(config))
    block = yaml.safe_load((stack_dir / "synapse" / "mas.yaml").read_text())
    assert block["matrix_authentication_service"]["secret_path"] == "/data/mas_secret"
    (folder / "mas.yaml").write_text((stack_dir / "synapse" / "mas.yaml").read_text())
    secret = (stack_dir / "synapse" / "mas_secret").read_text()
    (folder / "mas_secret").write_text(secret)
    for entry in folder.iterdir():
        os.chown(entry, 991, 991)
    checked = run_cli("run", "mas", "check-synapse", str(base), str(folder / "mas.yaml"))
    assert checked.exit_code == 0, checked.stderr
    port = free_port()
    container = docker(
        "run", "-d", "--rm", *RUN_ONE_OFF, "-p", f"127.0.0.1:{port}:8008",
        "-v", f"{folder}:/data", "--entrypoint", "python3", SYNAPSE,
        "-m", "synapse.app.homeserver", "-c", "/data/homeserver.yaml", "-c", "/data/mas.yaml",
    ).stdout.strip()  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while http(f"http://127.0.0.1:{port}/health")[0] != 200:
            running = docker("inspect", "-f", "{{.State.Running}}", container, check=False)
            assert running.stdout.strip() == "true", docker("logs", container, check=False).stderr
            assert time.monotonic() < deadline, "Synapse never answered /health"
            time.sleep(1)
        # the MAS API exists only with delegation on; it takes the secret from the file
        query = f"http://127.0.0.1:{port}/_synapse/mas/query_user?localpart=nobody"
        code, body, _ = http(query, token="not-the-secret")
        assert (code, body["error"]) == (403, "This endpoint must only be called by MAS")
        code, body, _ = http(query, token=secret.strip())
        assert (code, body["errcode"], body["error"]) == (404, "M_NOT_FOUND", "User not found")
        # and Synapse's own password login is gone: MAS answers it behind the proxy
        code, body, _ = http(f"http://127.0.0.1:{port}/_matrix/client/v3/login")
        assert (code, body["errcode"]) == (404, "M_UNRECOGNIZED")
    finally:
        docker("rm", "-f", container, check=False)


def standin_received(since: str) -> list[dict[str, str]]:
    """The MAS stand-in's `stand-in received k=v ...` log lines since `since`."""
    logs = docker("logs", "--since", since, NAMES.container("mas"), check=False)
    found = []
    for line in (logs.stdout + logs.stderr).splitlines():
        if " stand-in received " in line:
            fields = line.split(" stand-in received ", 1)[1].split()
            found.append(dict(field.split("=", 1) for field in fields))
    return found


def login_json(password: str, padding: int = 0) -> bytes:
    body = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": "admin"},
        "password": password,
    }
    if padding:
        body["padding"] = "p" * padding  # a field MAS ignores; only the size matters
    return json.dumps(body).encode()


@pytest.mark.proxies
def test_through_real_proxies_logins_reach_mas_and_sync_reaches_synapse(mas, run_cli, world):
    """The rendered proxy config, unchanged, in nginx, Apache, Caddy and HAProxy in front of
    the deployed stack: real Synapse, the MAS stand-in (HTTP/1.1, as MAS). The compat login is
    POSTed through the proxy with `Expect: 100-continue`, as curl sends it; the stand-in logs
    what reached it."""
    from stackctl.recipe import get_recipe
    from stackctl.render import stack_vhosts
    from stackctl.settings import parse_site, stack_settings
    from tests.proxy_real import harness

    deploy(run_cli)
    password = run_cli("extract", "mas", "admin-password").stdout.strip()
    site = parse_site({"domain": "test.lan", "stacks": {"mas": mas["ports"]}})
    recipe = get_recipe("mas")
    settings = stack_settings(site, "mas", recipe.settings, ["mas"])
    hosts = stack_vhosts(recipe, site, settings)
    for dialect in ("nginx", "apache", "caddy", "haproxy"):
        if not harness.have(harness.E2E_DIALECTS[dialect]):
            pytest.fail(f"{dialect} is not installed")
        _through_proxy(world, dialect, hosts, password)


def _through_proxy(world, dialect: str, hosts, password: str) -> None:
    from tests.proxy_real import harness
    from tests.proxy_real.conftest import server_for

    server = server_for(world, dialect, hosts, f"mas-e2e-{dialect}", "mas", fresh_ports=True)
    checked = server.check()
    assert checked.returncode == 0, (dialect, checked.stdout + checked.stderr)
    server.start()
    try:
        port = server.extra["site"].https_port

        def call(host, path, token="", body=None):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            if body is not None:
                headers["Content-Type"] = "application/json"
            method = "POST" if body is not None else "GET"
            return harness.request(port, host, path, world.context(), method, body, headers=headers)

        since = f"{time.time():.3f}"  # the proxy before this one made Synapse introspect too
        small, large = login_json(password), login_json(password, padding=6 * 1024 * 1024)
        tokens = []
        for version, body in (("v3", small), ("r0", small), ("v3", large)):
            login = call("matrix.test.lan", f"/_matrix/client/{version}/login", body=body)
            assert login.status == 200, (dialect, version, login.status, login.body[:300])
            assert login.headers["X-Mas-Standin"] == "1", dialect
            tokens.append(login.json()["access_token"])
        posts = [r for r in standin_received(since) if r["path"].endswith("/login")]
        assert [(r["path"], r["status"], int(r["body_bytes"])) for r in posts] == [
            ("/_matrix/client/v3/login", "200", len(small)),
            ("/_matrix/client/r0/login", "200", len(small)),
            ("/_matrix/client/v3/login", "200", len(large)),
        ], (dialect, posts)
        for received in posts:
            assert received["host"].split(":")[0] == "matrix.test.lan", (dialect, received)
            assert received["x_forwarded_proto"] == "https", (dialect, received)

        # the token MAS issued through the proxy works on the real Synapse through it too
        token = tokens[0]
        sync = call("matrix.test.lan", "/_matrix/client/v3/sync?timeout=0", token=token)
        assert sync.status == 200 and "next_batch" in sync.json(), (dialect, sync.body[:300])
        assert "X-Mas-Standin" not in sync.headers
        me = call("matrix.test.lan", "/_matrix/client/v3/account/whoami", token=token)
        assert me.json()["user_id"] == "@admin:test.lan", (dialect, me.body[:300])
        auth = call("auth.test.lan", "/")
        assert auth.status == 200 and auth.headers["X-Mas-Standin"] == "1", dialect
        known = call("test.lan", "/.well-known/matrix/client")
        assert known.json()["m.homeserver"]["base_url"] == "https://matrix.test.lan/", dialect
    finally:
        server.stop()
