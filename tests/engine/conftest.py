"""Real-engine fixtures: a deployed Ente stack on local test images.

museum, MinIO, the web app and the Ente CLI run as stand-ins (tests/images/*-standin)
that honour the upstream contracts; Postgres is a real PostgreSQL built from Debian and
the S3 server is a real S3 protocol implementation. Nothing here is verified against Ente.
"""

from __future__ import annotations

import ipaddress
import json
import random
import shutil
import subprocess
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest

from stackctl.names import LABEL_PREFIX, LABEL_STACK, PROJECT_LABEL, StackNames, stack_names
from tests.conftest import RUN_PREFIX, TEST_IMAGES
from tests.ports import free_port  # noqa: F401  the engine tests' published ports
from tests.proxy_real.conftest import world  # noqa: F401  the test CA, for engine + proxy tests

CLI_STANDIN = "stackctl-test/ente-cli-standin:latest"
BASE_IMAGE = "stackctl-test/debian:bookworm"
# the next Postgres major, from Debian trixie: the pg-upgrade tests move a folder to it
POSTGRES_NEXT = "stackctl-test/postgres:17"


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def names(stack: str) -> StackNames:
    """This run's engine names for a stack: the same function stackctl uses, with RUN_PREFIX."""
    return stack_names(stack, RUN_PREFIX)


# What a test makes by hand (not through stackctl) carries this label too.
RUN_LABEL = f"{LABEL_PREFIX}={RUN_PREFIX}"


def teardown_stack(stack_dir: Path, stack: str) -> None:
    """Remove what this run made for a stack, found by label only: compose down, then every
    container of this run's project (one-off runs, leftovers of a killed test), every network
    compose or stackctl made for it, and its named volumes. Nothing of a user's or another
    run's matches."""
    project = names(stack).project
    if (stack_dir / "docker-compose.yml").exists():
        subprocess.run(
            ["docker", "compose", "-p", project, "down", "--remove-orphans", "--timeout", "5"],
            cwd=stack_dir,
            capture_output=True,
        )
    label = f"label={PROJECT_LABEL}={project}"
    for container in docker("ps", "-aq", "--filter", label, check=False).stdout.split():
        docker("rm", "-f", container, check=False)
    made_by_stackctl = (
        "--filter",
        f"label={RUN_LABEL}",
        "--filter",
        f"label={LABEL_STACK}={stack}",
    )
    for filters in (("--filter", label), made_by_stackctl):
        for network in docker("network", "ls", "-q", *filters, check=False).stdout.split():
            docker("network", "rm", network, check=False)
    # named volumes compose made for this run's project (compose down keeps them)
    for volume in docker("volume", "ls", "-q", "--filter", label, check=False).stdout.split():
        docker("volume", "rm", "-f", volume, check=False)


def teardown_ente(stack_dir: Path) -> None:
    teardown_stack(stack_dir, "ente")


@cache
def _free_pools() -> list[str]:
    taken = [
        ipaddress.ip_network(c["Subnet"])
        for n in json.loads(
            docker("network", "inspect", *docker("network", "ls", "-q").stdout.split()).stdout
            or "[]"
        )
        for c in (n.get("IPAM") or {}).get("Config") or []
        if ":" not in c.get("Subnet", ":")
    ]
    candidates = [ipaddress.ip_network(f"10.{i}.0.0/16") for i in range(64, 200)]
    free = [str(c) for c in candidates if not any(c.overlaps(t) for t in taken)]
    random.shuffle(free)
    return free


def run_pool(index: int = 0) -> str:
    """A /16 of this run's own that no Docker network overlapped when the run started, picked
    at random so that two runs started together almost never share one. Index 0 is the pool
    the stacks are deployed from; tests that make networks by hand take the others."""
    return _free_pools()[index]


@pytest.fixture
def site_file(site_file: Callable[..., Path]) -> Callable[..., Path]:
    """The shared site_file, with this run's own subnet pool."""

    def write(extra: str = "", pool: str | None = None, **kwargs) -> Path:
        return site_file(extra=extra, pool=pool or run_pool(), **kwargs)

    return write


@pytest.fixture(scope="session")
def engine_ready(users_stack: None) -> Iterator[None]:
    yield
    leftovers = sweep_run()
    assert not leftovers, f"the tests left these behind (now removed): {leftovers}"


def sweep_run() -> list[str]:
    """Remove whatever this run still has on the engine, found by its labels."""
    found = []
    rows = docker(
        "ps", "-a", "--filter", f"label={PROJECT_LABEL}",
        "--format", f'{{{{.ID}}}} {{{{.Names}}}} {{{{.Label "{PROJECT_LABEL}"}}}}',
    ).stdout.splitlines()  # fmt: skip
    for container_id, name, project in (row.split(" ", 2) for row in rows):
        if project.startswith(RUN_PREFIX):
            docker("rm", "-f", container_id, check=False)
            found.append(name)
    for label in (f"label={RUN_LABEL}", f"label={PROJECT_LABEL}"):
        rows = docker(
            "network", "ls", "--filter", label, "--format",
            f'{{{{.Name}}}} {{{{.Label "{PROJECT_LABEL}"}}}}{{{{.Label "{LABEL_PREFIX}"}}}}',
        ).stdout.splitlines()  # fmt: skip
        for name, _, owner in (row.partition(" ") for row in rows):
            if owner.startswith(RUN_PREFIX):
                docker("network", "rm", name, check=False)
                found.append(name)
    return found


# A user's Ente, as the seeds and stackctl without a prefix name it. The engine tests must
# leave it exactly as it is: they run with RUN_PREFIX and remove only what carries it.
USER_CONTAINER, USER_NETWORK = "ente-museum", "ente.lan"
SENTINEL = "org.stackctl.test-sentinel"


def engine_problems() -> list[str]:
    if shutil.which("docker") is None or docker("info", check=False).returncode != 0:
        return ["no Docker engine answers `docker info`"]
    missing = [
        i
        for i in (*TEST_IMAGES.values(), CLI_STANDIN, BASE_IMAGE, POSTGRES_NEXT)
        if docker("image", "inspect", i, check=False).returncode
    ]
    return [f"test images missing (run tests/images/build.sh): {missing}"] if missing else []


def _container_id(name: str) -> str:
    done = docker("inspect", "-f", "{{.Id}}", name, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def _network_id(name: str) -> str:
    done = docker("network", "inspect", "-f", "{{.Id}}", name, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


@pytest.fixture(scope="session")
def users_stack() -> Iterator[dict[str, str]]:
    """A stand-in for a user's running Ente (container ente-museum of compose project ente on
    network ente.lan), made unless one is there already; it must outlive the whole session.
    A real one, or another test run's stand-in, is only looked at, never touched."""
    problems = engine_problems()
    if problems:
        pytest.fail("--engine given, but " + "; ".join(problems))
    made = []
    if not _network_id(USER_NETWORK):
        docker(
            "network", "create", "--label", f"{LABEL_STACK}=ente",
            "--label", f"{SENTINEL}={RUN_PREFIX}", USER_NETWORK,
        )  # fmt: skip
        made.append(USER_NETWORK)
    if not _container_id(USER_CONTAINER):
        docker(
            "run", "-d", "--name", USER_CONTAINER, "--network", USER_NETWORK,
            "--label", f"{PROJECT_LABEL}=ente", "--label", "com.docker.compose.service=museum",
            "--label", f"{SENTINEL}={RUN_PREFIX}", BASE_IMAGE, "sleep", "infinity",
        )  # fmt: skip
        made.append(USER_CONTAINER)
    ids = {"container": _container_id(USER_CONTAINER), "network": _network_id(USER_NETWORK)}
    maker = docker(
        "inspect", "-f", f'{{{{index .Config.Labels "{SENTINEL}"}}}}', USER_CONTAINER
    ).stdout.strip()  # fmt: skip
    yield ids
    after = {"container": _container_id(USER_CONTAINER), "network": _network_id(USER_NETWORK)}
    for name in made[::-1]:
        docker("network" if name == USER_NETWORK else "container", "rm", "-f", name, check=False)
    # another run's stand-in is gone when that run ended first; anything else must be as it was
    another_runs = maker not in ("", "<no value>", RUN_PREFIX)
    gone = [k for k in ids if after[k] != ids[k] and not (another_runs and not after[k])]
    assert not gone, f"the tests replaced or removed the user's {gone}: {ids} -> {after}"


@pytest.fixture
def ente_site(
    tmp_path: Path, engine_ready: None, site_file, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict]:
    """A stackctl.toml for Ente on free ports and test images; tears the stack down after."""
    ports = {"api_port": free_port(), "auth_port": free_port(), "s3_port": free_port()}
    extra = "[stacks.ente]\nenabled = true\n" + "".join(f"{k} = {v}\n" for k, v in ports.items())
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
        "names": names("ente"),
    }
    teardown_ente(stack_dir)
