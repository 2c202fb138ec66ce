"""An engine held in memory, for unit tests of everything above the engine.

It keeps networks, containers and images as plain values, records every call, and runs
compose verbs against the services it reads from the rendered compose file, so the
deploy flow can be tested check -> apply -> check -> apply without a Docker engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

from stackctl.engine import COMPOSE_FILE, ContainerInfo, ExecResult, NetworkInfo
from stackctl.errors import EngineError

_SERVICE = re.compile(r"^  ([A-Za-z0-9_.-]+):\s*$")
_IMAGE = re.compile(r"^    image:\s*['\"]?([^'\"\s]+)")


@dataclass
class FakeEngine:
    """An engine held in memory: its networks, containers and images, and every call made."""

    images: dict[str, str] = field(default_factory=dict)  # reference -> image id
    networks_by_name: dict[str, NetworkInfo] = field(default_factory=dict)
    containers_by_project: dict[str, list[ContainerInfo]] = field(default_factory=dict)
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    # what `exec`, `exec_stream` and `compose_run` answer: (container or service, argv) -> result
    on_exec: Callable[[str, list[str]], ExecResult] = lambda container, argv: ExecResult(0, "")
    stream_output: bytes = b""
    streamed_in: bytes = b""
    reachable: bool = True
    restarts: dict[str, int] = field(default_factory=dict)  # container id -> restarts
    image_envs: dict[str, dict[str, str]] = field(default_factory=dict)  # reference -> env
    # more of `docker inspect` (Config, Mounts) for a container name
    inspected: dict[str, dict[str, Any]] = field(default_factory=dict)
    # one-off containers of run_container: name -> (image, environment, mounts)
    runs: dict[str, tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=dict)
    _ids: int = 0

    def _call(self, *call: Any) -> None:
        if not self.reachable:
            raise EngineError("the Docker engine is not reachable (fake)")
        self.calls.append(call)

    def verbs(self) -> list[str]:
        """The names of the calls made, in order."""
        return [c[0] for c in self.calls]

    def _new_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids:08d}"

    def ping(self) -> None:
        self._call("ping")

    def version(self) -> str:
        self._call("version")
        return "fake"

    # networks
    def networks(self) -> list[NetworkInfo]:
        self._call("networks")
        return list(self.networks_by_name.values())

    def network(self, name: str) -> NetworkInfo | None:
        self._call("network", name)
        return self.networks_by_name.get(name)

    def create_network(
        self, name: str, subnet: str, gateway: str, ip_range: str, labels: dict[str, str]
    ) -> NetworkInfo:
        self._call("create_network", name, subnet)
        info = NetworkInfo(name, self._new_id("net"), (subnet,), gateway, ip_range)
        self.networks_by_name[name] = info
        return info

    def remove_network(self, name: str) -> None:
        self._call("remove_network", name)
        self.networks_by_name.pop(name, None)

    # containers
    def project_containers(self, project: str) -> list[ContainerInfo]:
        self._call("project_containers", project)
        return sorted(self.containers_by_project.get(project, []), key=lambda c: c.service)

    def container(self, name: str) -> dict[str, Any] | None:
        self._call("container", name)
        for containers in self.containers_by_project.values():
            for found in containers:
                if name in (found.name, found.id):
                    health = {"Status": found.health} if found.health else None
                    started = f"start {self.restarts.get(found.id, 0)}"
                    state = {"Status": found.state, "Health": health, "StartedAt": started}
                    return {"Id": found.id, "State": state, **self.inspected.get(found.name, {})}
        return None

    def restart(self, container: str) -> None:
        self._call("restart", container)
        for containers in self.containers_by_project.values():
            for found in containers:
                if container in (found.name, found.id):
                    self.restarts[found.id] = self.restarts.get(found.id, 0) + 1

    def stop_container(self, container: str) -> None:
        self._call("stop_container", container)
        for project, found in self.containers_by_project.items():
            self.containers_by_project[project] = [
                replace(c, state="exited") if c.name == container else c for c in found
            ]

    def exec(
        self,
        container: str,
        argv: Sequence[str],
        user: str | None = None,
        environment: dict[str, str] | None = None,
    ) -> ExecResult:
        self._call("exec", container, list(argv), user)
        return self.on_exec(container, list(argv))

    def exec_stream(
        self,
        container: str,
        argv: Sequence[str],
        stdin: BinaryIO | None,
        stdout: BinaryIO,
        user: str | None = None,
    ) -> int:
        self._call("exec_stream", container, list(argv), user)
        if stdin is not None:
            self.streamed_in += stdin.read()
        stdout.write(self.stream_output)
        return self.on_exec(container, list(argv)).exit_code

    def run_container(
        self,
        name: str,
        image: str,
        environment: dict[str, str],
        mounts: dict[str, str],
        labels: dict[str, str],
    ) -> None:
        self._call("run_container", name, image)
        if image not in self.images:
            raise EngineError(f"run {image}: the image is not here")
        if name in self.runs:
            raise EngineError(f"run {image}: a container named {name} exists")
        self.runs[name] = (image, dict(environment), dict(mounts))

    def remove_container(self, name: str) -> None:
        self._call("remove_container", name)
        self.runs.pop(name, None)

    def exec_attached(self, container: str, argv: Sequence[str]) -> int:
        self._call("exec_attached", container, list(argv))
        return self.on_exec(container, list(argv)).exit_code

    # images
    def image_id(self, reference: str) -> str | None:
        self._call("image_id", reference)
        return self.images.get(reference)

    def image_env(self, reference: str) -> dict[str, str] | None:
        self._call("image_env", reference)
        return dict(self.image_envs.get(reference, {})) if reference in self.images else None

    def image_digests(self, reference: str) -> tuple[str, ...]:
        self._call("image_digests", reference)
        return (f"{reference}@sha256:{self.images[reference]}",) if reference in self.images else ()

    def pull(self, reference: str, on_progress: Callable[[dict[str, Any]], None]) -> None:
        self._call("pull", reference)
        self.images[reference] = self._new_id("sha256:")

    def build(self, context: str, tag: str, build_args: dict[str, str]) -> int:
        self._call("build", context, tag, dict(build_args))
        self.images[tag] = self._new_id("sha256:")
        return 0

    # compose
    def compose_config(self, stack_dir: Path, project: str) -> None:
        self._call("compose_config", project)
        if not compose_services(stack_dir):
            raise EngineError(f"docker compose config failed: no services in {stack_dir}")

    def compose_up(
        self, stack_dir: Path, project: str, services: Sequence[str] = (), wait_seconds: int = 300
    ) -> None:
        self._call("compose_up", project, tuple(services))
        declared = compose_services(stack_dir)
        current = {c.service: c for c in self.containers_by_project.get(project, [])}
        for service, image in declared.items():
            if services and service not in services:
                continue
            if image not in self.images:
                raise EngineError(f"docker compose up failed: image {image} is not present")
            found = current.get(service)
            wanted = self.images[image]
            if found is None or found.image_id != wanted or found.state != "running":
                current[service] = ContainerInfo(
                    f"{project}-{service}", service, "running", "", wanted, self._new_id("c")
                )
        if not services:  # --remove-orphans
            current = {s: c for s, c in current.items() if s in declared}
        self.containers_by_project[project] = list(current.values())

    def compose_run(
        self,
        stack_dir: Path,
        project: str,
        service: str,
        argv: Sequence[str],
        environment: dict[str, str] | None = None,
        user: str | None = None,
    ) -> ExecResult:
        self._call("compose_run", project, service, list(argv))
        return self.on_exec(service, list(argv))

    def compose_down(self, stack_dir: Path, project: str) -> None:
        self._call("compose_down", project)
        self.containers_by_project.pop(project, None)

    # logs
    def log_stream(
        self,
        container: str,
        follow: bool = False,
        since: str | None = None,
        tail: int | None = None,
        deadline: float | None = None,
        compose_dir: Path | None = None,
    ) -> Iterator[bytes]:
        self._call("log_stream", container)
        yield self.stream_output

    # helpers for tests
    def recreate(self, project: str, service: str) -> None:
        """Give a container a new id, as `docker compose up --force-recreate` would."""
        self.containers_by_project[project] = [
            replace(c, id=self._new_id("c")) if c.service == service else c
            for c in self.containers_by_project.get(project, [])
        ]

    def stop(self, project: str, service: str) -> None:
        """Make a container exited, as a crash would."""
        self.containers_by_project[project] = [
            replace(c, state="exited") if c.service == service else c
            for c in self.containers_by_project.get(project, [])
        ]


def compose_services(stack_dir: Path) -> dict[str, str]:
    """service -> image, read from the rendered compose file (two-space YAML indentation)."""
    services: dict[str, str] = {}
    inside, current = False, ""
    for line in (stack_dir / COMPOSE_FILE).read_text(encoding="utf-8").splitlines():
        if line and not line[0].isspace():
            inside = line.rstrip() == "services:"
            continue
        if not inside:
            continue
        if match := _SERVICE.match(line):
            current = match.group(1)
            services[current] = ""
        elif current and (match := _IMAGE.match(line)):
            services[current] = match.group(1)
    return services
