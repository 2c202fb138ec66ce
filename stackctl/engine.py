"""The engine adapter: the only module that imports docker or python_on_whales.

Commands and the deploy flow see plain dataclasses from here, never SDK objects, and
every engine failure becomes an EngineError that keeps the command and its output.
Both SDKs are imported on first use, so `stackctl --help` stays fast.
"""

from __future__ import annotations

import os
import queue
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from stackctl.errors import EngineError

COMPOSE_FILE = "docker-compose.yml"
ENGINE_HINT = "is dockerd running? try `docker info` (set DOCKER_HOST if the engine is elsewhere)"


@dataclass(frozen=True)
class NetworkInfo:
    name: str
    id: str
    subnets: tuple[str, ...]
    gateway: str = ""
    ip_range: str = ""
    containers: dict[str, str] = field(default_factory=dict)  # container name -> IPv4


@dataclass(frozen=True)
class ContainerInfo:
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
    exit_code: int
    output: str


class Engine:
    """Talks to one Docker engine: the SDK for objects, compose through python-on-whales."""

    @cached_property
    def _sdk(self) -> Any:
        import docker
        from docker.errors import DockerException

        try:
            client = docker.from_env(timeout=120)
            client.ping()
        except DockerException as exc:
            raise EngineError(f"cannot reach the Docker engine: {exc}", ENGINE_HINT) from exc
        return client

    def _wrap(self, what: str, func: Callable[[], Any]) -> Any:
        from docker.errors import APIError, DockerException, NotFound

        try:
            return func()
        except NotFound:
            return None
        except APIError as exc:
            raise EngineError(f"{what}: {exc.explanation or exc}", ENGINE_HINT) from exc
        except DockerException as exc:
            raise EngineError(f"{what}: {exc}", ENGINE_HINT) from exc

    # -- engine facts -------------------------------------------------------------
    def version(self) -> str:
        return self._wrap("engine version", lambda: self._sdk.version().get("Version", "?"))

    # -- networks -----------------------------------------------------------------
    def networks(self) -> list[NetworkInfo]:
        return [
            _network_info(n.attrs)
            for n in self._wrap("list networks", lambda: self._sdk.networks.list())
        ]

    def network(self, name: str) -> NetworkInfo | None:
        found = self._wrap(f"inspect network {name}", lambda: self._sdk.api.inspect_network(name))
        return _network_info(found) if found else None

    def create_network(
        self, name: str, subnet: str, gateway: str, ip_range: str, labels: dict[str, str]
    ) -> NetworkInfo:
        from docker.types import IPAMConfig, IPAMPool

        ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=subnet, gateway=gateway, iprange=ip_range)])
        self._wrap(
            f"create network {name}",
            lambda: self._sdk.networks.create(
                name, driver="bridge", ipam=ipam, labels=labels, check_duplicate=True
            ),
        )
        info = self.network(name)
        assert info is not None
        return info

    def remove_network(self, name: str) -> None:
        self._wrap(f"remove network {name}", lambda: self._sdk.api.remove_network(name))

    # -- containers ---------------------------------------------------------------
    def project_containers(self, project: str) -> list[ContainerInfo]:
        listing = self._wrap(
            f"list containers of {project}",
            lambda: self._sdk.api.containers(
                all=True, filters={"label": f"com.docker.compose.project={project}"}
            ),
        )
        return sorted((_container_info(self, c) for c in listing or []), key=lambda c: c.service)

    def container(self, name: str) -> dict[str, Any] | None:
        return self._wrap(
            f"inspect container {name}", lambda: self._sdk.api.inspect_container(name)
        )

    def exec(
        self,
        container: str,
        argv: Sequence[str],
        user: str | None = None,
        environment: dict[str, str] | None = None,
    ) -> ExecResult:
        def run() -> ExecResult:
            code, output = self._sdk.containers.get(container).exec_run(
                list(argv), user=user or "", environment=environment, demux=False
            )
            return ExecResult(code, (output or b"").decode("utf-8", "replace"))

        result = self._wrap(f"exec in {container}", run)
        if result is None:
            raise EngineError(
                f"container {container} does not exist", "is the stack up? try `stackctl status`"
            )
        return result

    def exec_attached(self, container: str, argv: Sequence[str]) -> int:
        """Run a command in a container attached to this terminal (prompts work)."""
        tty = ["-it"] if sys.stdin.isatty() and sys.stdout.isatty() else ["-i"]
        command = ["docker", "exec", *tty, container, *argv]
        _debug("$ " + " ".join(command))
        return subprocess.call(command)

    def restart(self, container: str) -> None:
        self._wrap(f"restart {container}", lambda: self._sdk.api.restart(container, timeout=30))

    # -- images -------------------------------------------------------------------
    def image_id(self, reference: str) -> str | None:
        found = self._wrap(
            f"inspect image {reference}", lambda: self._sdk.api.inspect_image(reference)
        )
        return found["Id"] if found else None

    def image_digests(self, reference: str) -> tuple[str, ...]:
        found = self._wrap(
            f"inspect image {reference}", lambda: self._sdk.api.inspect_image(reference)
        )
        return tuple(found.get("RepoDigests") or ()) if found else ()

    def pull(self, reference: str, on_progress: Callable[[dict[str, Any]], None]) -> None:
        repository, tag = split_reference(reference)

        def run() -> None:
            for event in self._sdk.api.pull(
                repository, tag=tag or "latest", stream=True, decode=True
            ):
                if "error" in event:
                    raise EngineError(
                        f"pull {reference}: {event['error']}",
                        "check the image name, the registry, or the [images] override map",
                    )
                on_progress(event)

        self._wrap(f"pull {reference}", run)

    # -- compose ------------------------------------------------------------------
    def _compose(self, stack_dir: Path, project: str) -> Any:
        from python_on_whales import DockerClient

        return DockerClient(
            compose_files=[stack_dir / COMPOSE_FILE],
            compose_project_name=project,
            compose_project_directory=stack_dir,
        )

    def _compose_call(self, what: str, func: Callable[[], Any]) -> Any:
        from python_on_whales.exceptions import DockerException

        try:
            return func()
        except DockerException as exc:
            output = "\n".join(x for x in (exc.stdout or "", exc.stderr or "") if x)
            last = output.strip().splitlines()[-1] if output.strip() else str(exc)
            raise EngineError(
                f"{what} failed: {last}",
                "run again with -v to see compose's full output",
                list(exc.docker_command),
                output,
            ) from exc

    def compose_config(self, stack_dir: Path, project: str) -> None:
        """Let compose itself validate the rendered file (interpolation included)."""
        self._compose_call(
            "docker compose config",
            lambda: self._compose(stack_dir, project).compose.config(return_json=True),
        )

    def compose_up(
        self, stack_dir: Path, project: str, services: Sequence[str] = (), wait_seconds: int = 300
    ) -> None:
        client = self._compose(stack_dir, project)
        self._compose_call(
            "docker compose up",
            lambda: client.compose.up(
                list(services) or None,
                detach=True,
                wait=wait_seconds > 0,
                wait_timeout=wait_seconds or None,
                quiet=True,
                pull="never",
                remove_orphans=True,
            ),
        )

    def compose_run(
        self,
        stack_dir: Path,
        project: str,
        service: str,
        argv: Sequence[str],
        environment: dict[str, str] | None = None,
        user: str | None = None,
    ) -> ExecResult:
        """A one-off container of a service (`docker compose run --rm`), output captured."""
        command = [
            "docker",
            "compose",
            "--project-directory",
            str(stack_dir),
            "-f",
            str(stack_dir / COMPOSE_FILE),
            "-p",
            project,
            "run",
            "--rm",
            "--no-deps",
            "-T",
        ]
        for key, value in (environment or {}).items():
            command += ["-e", f"{key}={value}"]
        if user:
            command += ["--user", user]
        command += [service, *argv]
        _debug("$ " + " ".join(command[:12]) + " ...")
        done = subprocess.run(command, capture_output=True, text=True)
        return ExecResult(done.returncode, done.stdout + done.stderr)

    def compose_down(self, stack_dir: Path, project: str) -> None:
        self._compose_call(
            "docker compose down",
            lambda: self._compose(stack_dir, project).compose.down(remove_orphans=True),
        )

    # -- logs ---------------------------------------------------------------------
    def log_stream(
        self,
        container: str,
        follow: bool = False,
        since: str | None = None,
        tail: int | None = None,
        deadline: float | None = None,
        compose_dir: Path | None = None,
    ) -> Iterator[bytes]:
        """Raw log bytes (stdout and stderr merged) in large chunks, straight from the CLI.

        With `compose_dir`, `container` is a service name (or "" for all) and the lines come
        from `docker compose logs`, prefixed with the container name.
        """
        if compose_dir is not None:
            argv = [
                "docker",
                "compose",
                "--project-directory",
                str(compose_dir),
                "-f",
                str(compose_dir / COMPOSE_FILE),
                "logs",
                "--no-color",
            ]
        else:
            argv = ["docker", "logs"]
        if follow:
            argv.append("--follow")
        if since:
            argv += ["--since", since]
        if tail is not None:
            argv += ["--tail", str(tail)]
        if container:
            argv.append(container)
        _debug("$ " + " ".join(argv))
        try:
            process = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                bufsize=0 if follow else 1 << 20,
            )
        except FileNotFoundError as exc:
            raise EngineError(
                "the docker command is not installed", "install docker.io (and docker-compose v2)"
            ) from exc
        assert process.stdout is not None
        tail = b""  # the end of the output: docker's own complaint, when it fails
        ended = False  # the output ran to its end, rather than the deadline or the reader stopping
        try:
            source = _follow(process.stdout, deadline) if follow else _drain(process.stdout)
            for chunk in source:
                tail = (tail + chunk[-2048:])[-2048:]
                yield chunk
            ended = deadline is None or time.monotonic() < deadline
        finally:
            if not ended and process.poll() is None:
                process.terminate()
            code = process.wait()
        if ended and code != 0:
            lines = tail.decode("utf-8", "replace").strip().splitlines()
            what = "docker compose logs" if compose_dir is not None else f"docker logs {container}"
            raise EngineError(
                f"{what} failed (exit {code}): {lines[-1] if lines else 'no output'}",
                "is the stack deployed and the engine running? try `stackctl status`",
            )


def _follow(stream: Any, deadline: float | None) -> Iterator[bytes]:
    """Whatever arrived, as soon as it arrived, until EOF or the deadline."""
    while True:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([stream], [], [], remaining)[0]:
                return
        chunk = os.read(stream.fileno(), 1 << 20)
        if not chunk:
            return
        yield chunk


def _drain(stream: Any) -> Iterator[bytes]:
    """Large blocks, read by a thread so the pipe keeps flowing while the caller works."""
    blocks: queue.Queue[bytes] = queue.Queue(maxsize=8)

    def reader() -> None:
        while chunk := stream.read(1 << 20):
            blocks.put(chunk)
        blocks.put(b"")

    threading.Thread(target=reader, daemon=True).start()
    while chunk := blocks.get():
        yield chunk


def _debug(message: str) -> None:
    # -v loads the console; without it, printing nothing is cheaper than importing rich
    console = sys.modules.get("stackctl.console")
    if console is not None:
        console.debug(message)


def split_reference(reference: str) -> tuple[str, str]:
    last = reference.rsplit("/", 1)[-1]
    if "@" in reference:
        repository, digest = reference.split("@", 1)
        return repository, digest
    if ":" in last:
        repository, tag = reference.rsplit(":", 1)
        return repository, tag
    return reference, ""


def _network_info(attrs: dict[str, Any]) -> NetworkInfo:
    configs = (attrs.get("IPAM") or {}).get("Config") or []
    subnets = tuple(c["Subnet"] for c in configs if "Subnet" in c and ":" not in c["Subnet"])
    first = configs[0] if configs else {}
    containers = {
        c.get("Name", ""): (c.get("IPv4Address") or "").split("/")[0]
        for c in (attrs.get("Containers") or {}).values()
    }
    return NetworkInfo(
        attrs["Name"],
        attrs["Id"],
        subnets,
        first.get("Gateway", ""),
        first.get("IPRange", ""),
        containers,
    )


def _container_info(engine: Engine, raw: dict[str, Any]) -> ContainerInfo:
    labels = raw.get("Labels") or {}
    status = raw.get("Status", "")
    health = (
        "healthy"
        if "(healthy)" in status
        else "unhealthy"
        if "(unhealthy)" in status
        else "starting"
        if "health: starting" in status
        else ""
    )
    ports = tuple(
        f"{p.get('IP', '')}:{p['PublicPort']}->{p['PrivatePort']}/{p['Type']}"
        for p in raw.get("Ports") or []
        if p.get("PublicPort")
    )
    host_ports = tuple(
        sorted({p["PublicPort"] for p in raw.get("Ports") or [] if p.get("PublicPort")})
    )
    return ContainerInfo(
        name=(raw.get("Names") or ["?"])[0].lstrip("/"),
        service=labels.get("com.docker.compose.service", ""),
        state=raw.get("State", ""),
        health=health,
        image_id=raw.get("ImageID", ""),
        id=raw.get("Id", ""),
        ports=ports,
        host_ports=host_ports,
    )
