"""The real engine's runner and error translation, without a Docker engine."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from stackctl.docker_engine import DockerEngine, _run
from stackctl.errors import EngineError


def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    """A `docker` on PATH that runs `script` (sh), standing in for the CLI."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    docker = bindir / "docker"
    docker.write_text("#!/bin/sh\n" + script + "\n")
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")


def test_the_runner_streams_both_ways_without_holding_the_data(tmp_path):
    payload = os.urandom(3 << 20)  # larger than any pipe buffer
    sink = io.BytesIO()
    done = _run(["cat"], stdin=io.BytesIO(payload), stdout=sink)
    assert done.code == 0 and sink.getvalue() == payload and done.stdout == ""


def test_exec_stream_feeds_stdin_and_returns_the_exit_code(tmp_path, monkeypatch):
    fake_docker(tmp_path, monkeypatch, 'echo "$@" >&2; cat; exit 3')
    sink = io.BytesIO()
    code = DockerEngine().exec_stream("db", ["pg_restore"], io.BytesIO(b"dump"), sink)
    assert (code, sink.getvalue()) == (3, b"dump")


def test_exec_stream_into_a_missing_container_says_so(tmp_path, monkeypatch):
    fake_docker(
        tmp_path,
        monkeypatch,
        'echo "Error response from daemon: No such container: db" >&2; exit 1',
    )
    with pytest.raises(EngineError, match="container db does not exist"):
        DockerEngine().exec_stream("db", ["pg_dump"], None, io.BytesIO())


def test_a_compose_failure_is_its_last_line_with_the_full_output_kept(tmp_path, monkeypatch):
    fake_docker(
        tmp_path,
        monkeypatch,
        'echo "parsing compose" ; echo "services.web: image missing" >&2; exit 15',
    )
    with pytest.raises(EngineError) as caught:
        DockerEngine().compose_config(tmp_path, "web")
    assert caught.value.message == "docker compose config failed: services.web: image missing"
    assert "parsing compose" in caught.value.output and "stacktrace" not in caught.value.output


def test_compose_logs_failure_names_compose_not_an_empty_container(tmp_path, monkeypatch):
    fake_docker(tmp_path, monkeypatch, "exit 1")
    with pytest.raises(EngineError) as caught:
        list(DockerEngine().log_stream("", compose_dir=tmp_path))
    assert "docker compose logs" in caught.value.message
    assert "docker logs  " not in caught.value.message


def test_no_docker_command_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EngineError, match="the docker command is not installed"):
        DockerEngine().compose_down(tmp_path, "web")


def test_an_unreachable_engine_is_one_line_without_the_sdk_text(
    run_cli, site_file, tmp_path, monkeypatch
):
    site_file()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    result = run_cli("network", "plan", "ente")
    assert result.exit_code == 1
    assert (
        f"error: the Docker engine is not reachable at unix://{tmp_path}/nothing.sock"
        in result.stderr
    )
    assert "Connection aborted" not in result.stderr and "FileNotFoundError" not in result.stderr


@pytest.fixture
def socket_engine(tmp_path, monkeypatch):
    """An engine API on a unix socket answering a few reads, as dockerd would."""
    import json
    import socketserver
    import threading
    from http.server import BaseHTTPRequestHandler

    answers = {
        "/version": (200, {"Version": "27.0.1"}),
        "/_ping": (200, "OK"),
        "/networks": (200, [{"Name": "web", "Id": "n1", "IPAM": {"Config": []}}]),
        "/images/ghcr.io/ente/server:v1/json": (200, {"Id": "sha256:abc", "RepoDigests": ["d"]}),
        "/images/broken/json": (500, {"message": "disk on fire"}),
    }
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            status, body = answers.get(self.path, (404, {"message": "no such object"}))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def address_string(self) -> str:
            return "engine"

        def log_message(self, *args: object) -> None:
            pass

    path = tmp_path / "engine.sock"
    server = socketserver.UnixStreamServer(str(path), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    yield seen
    server.shutdown()
    server.server_close()


def test_plain_reads_go_over_the_socket_without_the_sdk(socket_engine):
    import sys

    sdk_before = "docker" in sys.modules
    engine = DockerEngine()
    engine.ping()
    assert engine.version() == "27.0.1"
    assert [n.name for n in engine.networks()] == ["web"]
    assert engine.image_id("ghcr.io/ente/server:v1") == "sha256:abc"
    assert engine.image_digests("ghcr.io/ente/server:v1") == ("d",)
    assert engine.image_id("ghcr.io/ente/server:v2") is None
    with pytest.raises(EngineError, match="inspect image broken: disk on fire"):
        engine.image_id("broken")
    assert "/images/ghcr.io/ente/server:v2/json" in socket_engine and "/_ping" in socket_engine
    assert ("docker" in sys.modules) == sdk_before


def test_an_absent_socket_is_the_usual_unreachable_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    with pytest.raises(EngineError, match="not reachable at unix://"):
        DockerEngine().version()
    with pytest.raises(EngineError, match="not reachable at unix://"):
        DockerEngine().ping()
