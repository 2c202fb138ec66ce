"""Real-engine fixtures: a deployed Ente stack on local test images.

museum, MinIO, the web app and the Ente CLI run as stand-ins (tests/images/*-standin)
that honour the upstream contracts; Postgres is a real PostgreSQL built from Debian and
the S3 server is a real S3 protocol implementation. Nothing here is verified against Ente.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_IMAGES

CLI_STANDIN = "stackctl-test/ente-cli-standin:latest"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def teardown_stack(stack_dir: Path, project: str, networks: tuple[str, ...] = ()) -> None:
    """Remove a test stack: compose down, then any container of the project or named
    <project>-* (one-off runs, leftovers of a killed test), then its networks."""
    if (stack_dir / "docker-compose.yml").exists():
        subprocess.run(
            ["docker", "compose", "down", "--remove-orphans", "--timeout", "5"],
            cwd=stack_dir,
            capture_output=True,
        )
    labelled = docker(
        "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}", check=False
    ).stdout.split()
    named = docker("ps", "-aq", "--filter", f"name=^{project}-", check=False).stdout.split()
    for container in {*labelled, *named}:
        docker("rm", "-f", container, check=False)
    for network in (f"{project}.lan", *networks):
        docker("network", "rm", network, check=False)


def teardown_ente(stack_dir: Path) -> None:
    teardown_stack(stack_dir, "ente")


@pytest.fixture(scope="session")
def engine_ready() -> None:
    if shutil.which("docker") is None or docker("info", check=False).returncode != 0:
        pytest.fail("--engine given but no Docker engine answers `docker info`")
    missing = [
        i
        for i in (*TEST_IMAGES.values(), CLI_STANDIN)
        if docker("image", "inspect", i, check=False).returncode
    ]
    if missing:
        pytest.fail(f"test images missing (run tests/images/build.sh): {missing}")


@pytest.fixture
def ente_site(
    tmp_path: Path, engine_ready: None, site_file, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict]:
    """A stackctl.toml for Ente on free ports and test images; tears the stack down after."""
    ports = {"api_port": free_port(), "auth_port": free_port(), "s3_port": free_port()}
    extra = "[stacks.ente]\n" + "".join(f"{k} = {v}\n" for k, v in ports.items())
    extra += 'hardcoded_otts = ["me@home.lan,123456"]\n'
    extra += f'cli_image = "{CLI_STANDIN}"\n'
    path = site_file(extra=extra, images=TEST_IMAGES)
    stack_dir = tmp_path / "stacks" / "docker-ente"
    teardown_ente(stack_dir)
    yield {
        "path": path,
        "ports": ports,
        "stack_dir": stack_dir,
        "data": tmp_path / "data" / "ente",
        "tmp": tmp_path,
    }
    teardown_ente(stack_dir)
