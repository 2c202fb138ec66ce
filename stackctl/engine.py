"""What stackctl asks of a Docker engine: a protocol, the plain values it returns, and
`open_engine()`, which a command calls once and passes down.

The real implementation (`stackctl/docker_engine.py`) is the only module that imports
docker or runs a subprocess; `stackctl/engine_fake.py` holds the state in memory for the
deploy-flow unit tests. Nothing here imports an SDK, so importing it costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

COMPOSE_FILE = "docker-compose.yml"
ENGINE_HINT = "is dockerd running? try `docker info` (set DOCKER_HOST if the engine is elsewhere)"


@dataclass(frozen=True)
class NetworkInfo:
    """A Docker network as the engine describes it."""

    name: str
    id: str
    subnets: tuple[str, ...]
    gateway: str = ""
    ip_range: str = ""
    containers: dict[str, str] = field(default_factory=dict)  # container name -> IPv4


@dataclass(frozen=True)
class ContainerInfo:
    """A container of a compose project as the engine describes it."""

    name: str
    service: str
    state: str  # running, exited, restarting, ...
    health: str  # healthy, unhealthy, starting, or "" without a health check
    image_id: str
    id: str
    ports: tuple[str, ...] = ()  # "127.0.0.1:8180->8080/tcp"
    host_ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class ExecResult:
    """A command run in a container: its exit code and output."""

    exit_code: int
    output: str


class Engine(Protocol):
    """Every engine operation stackctl uses. Failures raise EngineError (one line + hint)."""

    def ping(self) -> None: ...  # raises EngineError when the engine does not answer
    def version(self) -> str: ...

    # networks
    def networks(self) -> list[NetworkInfo]: ...
    def network(self, name: str) -> NetworkInfo | None: ...
    def create_network(
        self, name: str, subnet: str, gateway: str, ip_range: str, labels: dict[str, str]
    ) -> NetworkInfo: ...
    def remove_network(self, name: str) -> None: ...

    # containers
    def project_containers(self, project: str) -> list[ContainerInfo]: ...
    def container(self, name: str) -> dict[str, Any] | None: ...
    def restart(self, container: str) -> None: ...
    def stop_container(self, container: str) -> None: ...
    def exec(
        self,
        container: str,
        argv: Sequence[str],
        user: str | None = None,
        environment: dict[str, str] | None = None,
    ) -> ExecResult: ...
    def exec_stream(
        self,
        container: str,
        argv: Sequence[str],
        stdin: BinaryIO | None,
        stdout: BinaryIO,
        user: str | None = None,
    ) -> int:
        """Bytes flow both ways without being held in memory (a dump, a restore)."""
        ...

    def exec_attached(self, container: str, argv: Sequence[str]) -> int: ...
    def run_container(
        self,
        name: str,
        image: str,
        environment: dict[str, str],
        mounts: dict[str, str],
        labels: dict[str, str],
    ) -> None:
        """Start a detached container with no network, host folders bind-mounted
        (host path -> container path): a one-off server driven through exec."""
        ...

    def remove_container(self, name: str) -> None:
        """Stop and remove a container; one that does not exist is no error."""
        ...

    # images
    def image_id(self, reference: str) -> str | None: ...
    def image_env(self, reference: str) -> dict[str, str] | None:
        """The image's environment variables; None when the image is not here."""
        ...

    def image_digests(self, reference: str) -> tuple[str, ...]: ...
    def pull(self, reference: str, on_progress: Callable[[dict[str, Any]], None]) -> None: ...
    def build(self, context: str, tag: str, build_args: dict[str, str]) -> int:
        """`docker build` of a folder or git URL, its progress on this terminal; exit code."""
        ...

    # compose
    def compose_config(self, stack_dir: Path, project: str) -> None: ...
    def compose_up(
        self, stack_dir: Path, project: str, services: Sequence[str] = (), wait_seconds: int = 300
    ) -> None: ...
    def compose_run(
        self,
        stack_dir: Path,
        project: str,
        service: str,
        argv: Sequence[str],
        environment: dict[str, str] | None = None,
        user: str | None = None,
    ) -> ExecResult: ...
    def compose_down(self, stack_dir: Path, project: str) -> None: ...

    # logs
    def log_stream(
        self,
        container: str,
        follow: bool = False,
        since: str | None = None,
        tail: int | None = None,
        deadline: float | None = None,
        compose_dir: Path | None = None,
    ) -> Iterator[bytes]: ...


def open_engine() -> Engine:
    """The engine of this machine; it connects on first use, so building it is free."""
    from stackctl.docker_engine import DockerEngine

    return DockerEngine()


def reachable(engine: Engine | None) -> Engine | None:
    """The engine when it answers, else None (the caller shows what it could not check)."""
    from stackctl.errors import EngineError

    if engine is None:
        return None
    try:
        engine.ping()  # the engine's cheapest answer: `version` asks its components too
    except EngineError:
        return None
    return engine


def split_reference(reference: str) -> tuple[str, str]:
    last = reference.rsplit("/", 1)[-1]
    if "@" in reference:
        repository, digest = reference.split("@", 1)
        return repository, digest
    if ":" in last:
        repository, tag = reference.rsplit(":", 1)
        return repository, tag
    return reference, ""
