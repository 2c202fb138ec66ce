"""The real engine: the only module that imports docker or starts a subprocess.

Objects (networks, containers, images, buffered exec) go through the Docker SDK; compose
and the streaming commands run the `docker` CLI through one runner, `_spawn`. Every
failure becomes one EngineError line with a hint; the raw output is kept for `-v`.
The SDK is imported on first use, so `stackctl --help` stays fast.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from stackctl.engine import (
    COMPOSE_FILE,
    ENGINE_HINT,
    ContainerInfo,
    ExecResult,
    NetworkInfo,
    split_reference,
)
from stackctl.errors import EngineError

if TYPE_CHECKING:  # the runner's modules load when it runs: a plan reads the socket only
    import queue
    import subprocess
    import threading

NOT_INSTALLED = "the docker command is not installed"
NOT_INSTALLED_HINT = "install docker.io and the compose v2 plugin (`docker compose version`)"
_CHUNK = 1 << 16


class DockerEngine:
    """Talks to the Docker engine of this machine (DOCKER_HOST respected)."""

    @cached_property
    def _sdk(self) -> Any:
        import docker
        from docker.errors import DockerException

        try:
            client = docker.from_env(timeout=120)
            client.ping()
        except DockerException as exc:
            raise _unreachable(exc) from exc
        return client

    def _wrap(self, what: str, func: Callable[[], Any]) -> Any:
        from docker.errors import APIError, DockerException, NotFound

        try:
            return func()
        except NotFound:
            return None
        except APIError as exc:
            raise EngineError(
                f"{what}: {exc.explanation or exc.response.reason}", ENGINE_HINT, output=str(exc)
            ) from exc
        except DockerException as exc:
            raise _unreachable(exc) from exc
        except OSError as exc:  # requests' connection errors are OSErrors too
            raise _unreachable(exc) from exc

    def _read(self, what: str, path: str, sdk_call: Callable[[], Any]) -> Any:
        """A read-only GET: over the engine's unix socket with the standard library, as
        importing the SDK costs more than an engine-free command's whole start-up; through
        the SDK for a tcp or ssh DOCKER_HOST. None when the object does not exist."""
        socket_path = _unix_socket()
        if socket_path is None:
            return self._wrap(what, sdk_call)
        return _get_json(socket_path, what, path)

    # -- engine facts -------------------------------------------------------------
    def ping(self) -> None:
        self._read("reach the engine", "/_ping", lambda: self._sdk.ping())

    def version(self) -> str:
        found = self._read("engine version", "/version", lambda: self._sdk.version())
        return (found or {}).get("Version", "?")

    # -- networks -----------------------------------------------------------------
    def networks(self) -> list[NetworkInfo]:
        return [
            _network_info(attrs)
            for attrs in self._read("list networks", "/networks", lambda: self._sdk.api.networks())
        ]

    def network(self, name: str) -> NetworkInfo | None:
        found = self._read(
            f"inspect network {name}",
            f"/networks/{_quote(name)}",
            lambda: self._sdk.api.inspect_network(name),
        )
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
        import json
        from urllib.parse import quote

        label = {"label": [f"com.docker.compose.project={project}"]}
        listing = self._read(
            f"list containers of {project}",
            f"/containers/json?all=1&filters={quote(json.dumps(label), safe='')}",
            lambda: self._sdk.api.containers(
                all=True, filters={"label": f"com.docker.compose.project={project}"}
            ),
        )
        return sorted((_container_info(c) for c in listing or []), key=lambda c: c.service)

    def container(self, name: str) -> dict[str, Any] | None:
        return self._read(
            f"inspect container {name}",
            f"/containers/{_quote(name)}/json",
            lambda: self._sdk.api.inspect_container(name),
        )

    def restart(self, container: str) -> None:
        self._wrap(f"restart {container}", lambda: self._sdk.api.restart(container, timeout=30))

    def stop_container(self, container: str) -> None:
        self._wrap(f"stop {container}", lambda: self._sdk.api.stop(container, timeout=60))

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

    def exec_stream(
        self,
        container: str,
        argv: Sequence[str],
        stdin: BinaryIO | None,
        stdout: BinaryIO,
        user: str | None = None,
    ) -> int:
        command = ["docker", "exec", *(["-i"] if stdin is not None else [])]
        command += [*(["--user", user] if user else []), container, *argv]
        done = _run(command, stdin=stdin, stdout=stdout)
        if done.code and _missing_container(done.stderr):
            raise EngineError(
                f"container {container} does not exist", "is the stack up? try `stackctl status`"
            )
        return done.code

    def run_container(
        self,
        name: str,
        image: str,
        environment: dict[str, str],
        mounts: dict[str, str],
        labels: dict[str, str],
    ) -> None:
        volumes = {host: {"bind": inside, "mode": "rw"} for host, inside in mounts.items()}
        started = self._wrap(
            f"run {image} as {name}",
            lambda: self._sdk.containers.run(
                image,
                name=name,
                detach=True,
                environment=environment,
                volumes=volumes,
                labels=labels,
                network_mode="none",
            ),
        )
        if started is None:
            raise EngineError(f"run {image}: the image is not here", "pull it, then run again")

    def remove_container(self, name: str) -> None:
        # a clean stop first: a server's data folder is used again after it
        self._wrap(f"stop {name}", lambda: self._sdk.api.stop(name, timeout=60))
        self._wrap(f"remove {name}", lambda: self._sdk.api.remove_container(name, force=True))

    def exec_attached(self, container: str, argv: Sequence[str]) -> int:
        """Run a command in a container attached to this terminal (prompts work)."""
        tty = ["-it"] if sys.stdin.isatty() and sys.stdout.isatty() else ["-i"]
        return _run(["docker", "exec", *tty, container, *argv], attached=True).code

    # -- images -------------------------------------------------------------------
    def _image(self, reference: str) -> dict[str, Any] | None:
        return self._read(
            f"inspect image {reference}",
            f"/images/{_quote(reference)}/json",
            lambda: self._sdk.api.inspect_image(reference),
        )

    def image_id(self, reference: str) -> str | None:
        found = self._image(reference)
        return found["Id"] if found else None

    def image_env(self, reference: str) -> dict[str, str] | None:
        found = self._image(reference)
        if not found:
            return None
        pairs = ((found.get("Config") or {}).get("Env")) or []
        return dict(p.split("=", 1) for p in pairs if "=" in p)

    def image_digests(self, reference: str) -> tuple[str, ...]:
        found = self._image(reference)
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

    def build(self, context: str, tag: str, build_args: dict[str, str]) -> int:
        argv = ["docker", "build", "--tag", tag]
        for key, value in build_args.items():
            argv += ["--build-arg", f"{key}={value}"]
        return _run([*argv, "--", context], attached=True).code

    # -- compose ------------------------------------------------------------------
    def compose_config(self, stack_dir: Path, project: str) -> None:
        """Let compose itself validate the rendered file (interpolation included)."""
        _compose(stack_dir, project, ["config", "--quiet"], "docker compose config")

    def compose_up(
        self, stack_dir: Path, project: str, services: Sequence[str] = (), wait_seconds: int = 300
    ) -> None:
        argv = ["up", "--detach", "--pull", "never", "--remove-orphans", "--quiet-pull"]
        if wait_seconds > 0:
            argv += ["--wait", "--wait-timeout", str(wait_seconds)]
        _compose(stack_dir, project, [*argv, *services], "docker compose up")

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
        command = ["run", "--rm", "--no-deps", "-T"]
        for key, value in (environment or {}).items():
            command += ["-e", f"{key}={value}"]
        if user:
            command += ["--user", user]
        done = _run([*_compose_base(stack_dir, project), *command, service, *argv])
        return ExecResult(done.code, done.stdout + done.stderr)

    def compose_down(self, stack_dir: Path, project: str) -> None:
        _compose(stack_dir, project, ["down", "--remove-orphans"], "docker compose down")

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
        import subprocess

        if compose_dir is not None:
            argv = ["docker", "compose", "--project-directory", str(compose_dir)]
            argv += ["-f", str(compose_dir / COMPOSE_FILE), "logs", "--no-color"]
            what = f"docker compose logs in {compose_dir}"
        else:
            argv = ["docker", "logs"]
            what = f"docker logs {container}"
        if follow:
            argv.append("--follow")
        if since:
            argv += ["--since", since]
        if tail is not None:
            argv += ["--tail", str(tail)]
        if container:
            argv.append(container)
        process = _spawn(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            bufsize=0 if follow else 1 << 20,
        )
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
            raise EngineError(
                f"{what} failed (exit {code}): {lines[-1] if lines else 'no output'}",
                "is the stack deployed and the engine running? try `stackctl status`",
            )


# -- the one subprocess runner ------------------------------------------------------


@dataclass(frozen=True)
class Completed:
    """A finished docker command: its argv, exit code and captured output."""

    argv: list[str]
    code: int
    stdout: str
    stderr: str


def _spawn(argv: list[str], **popen: Any) -> subprocess.Popen[bytes]:
    """Start a `docker` command: the one place stackctl starts a process."""
    import shutil
    import subprocess

    _debug("$ " + _shown(argv))
    if shutil.which(argv[0]) is None:
        raise EngineError(NOT_INSTALLED, NOT_INSTALLED_HINT)
    try:
        return subprocess.Popen(argv, **popen)
    except OSError as exc:
        raise EngineError(f"cannot start {argv[0]}: {exc.strerror}", NOT_INSTALLED_HINT) from exc


def _run(
    argv: list[str],
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
    attached: bool = False,
) -> Completed:
    """Run to the end. `attached` shares this terminal; a given `stdin`/`stdout` is streamed
    through (never held in memory); otherwise stdout is captured. stderr is always captured."""
    import subprocess

    if attached:
        return Completed(argv, _spawn(argv).wait(), "", "")
    process = _spawn(
        argv,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    pumps = []
    if stdin is not None:
        pumps.append(_pump(stdin, process.stdin, close=True))
    captured: list[bytes] = []
    sink: IO[bytes] = stdout if stdout is not None else _Collector(captured)
    pumps.append(_pump(process.stdout, sink))
    errors: list[bytes] = []
    pumps.append(_pump(process.stderr, _Collector(errors)))
    for pump in pumps:
        pump.join()
    code = process.wait()
    return Completed(
        argv,
        code,
        b"".join(captured).decode("utf-8", "replace"),
        b"".join(errors).decode("utf-8", "replace"),
    )


class _Collector:
    def __init__(self, into: list[bytes]) -> None:
        self.into = into

    def write(self, chunk: bytes) -> int:
        self.into.append(chunk)
        return len(chunk)


def _pump(source: Any, sink: Any, close: bool = False) -> threading.Thread:
    import threading

    def copy() -> None:
        try:
            while chunk := source.read(_CHUNK):
                sink.write(chunk)
        except BrokenPipeError:
            pass  # the command stopped reading; its exit code says why
        finally:
            if close:
                try:
                    sink.close()
                except BrokenPipeError:
                    pass

    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    return thread


def _compose_base(stack_dir: Path, project: str) -> list[str]:
    return [
        "docker",
        "compose",
        "--project-directory",
        str(stack_dir),
        "-f",
        str(stack_dir / COMPOSE_FILE),
        "-p",
        project,
    ]


def _compose(stack_dir: Path, project: str, argv: list[str], what: str) -> Completed:
    done = _run([*_compose_base(stack_dir, project), *argv])
    if done.code:
        output = "\n".join(x for x in (done.stdout, done.stderr) if x.strip())
        raise EngineError(
            f"{what} failed: {_last_line(output) or f'exit code {done.code}'}",
            "run again with -v to see compose's full output",
            done.argv,
            output,
        )
    return done


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _missing_container(stderr: str) -> bool:
    return "No such container" in stderr


def _unix_socket() -> str | None:
    """The engine's socket path, as the SDK finds it; None when DOCKER_HOST is not a socket."""
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    return host.removeprefix("unix://") if host.startswith("unix://") else None


def _quote(part: str) -> str:
    from urllib.parse import quote

    return quote(part, safe="/:")


def _get_json(socket_path: str, what: str, path: str) -> Any:
    """GET over HTTP/1.0, so the engine closes the connection after one plain body (the
    standard library's HTTP client alone costs a tenth of the start-up budget to import)."""
    import json
    import socket

    received = bytearray()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(120)
            connection.connect(socket_path)
            connection.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
            while chunk := connection.recv(_CHUNK):
                received += chunk
    except OSError as exc:
        raise _unreachable(exc) from exc
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise _unreachable(ValueError(f"not an HTTP answer: {status_line!r}"))
    status, reason = int(status_line[1]), status_line[2] if len(status_line) > 2 else ""
    if status == 404:
        return None
    try:
        found = json.loads(body) if body else None
    except ValueError:
        found = None
    if status >= 400:
        explanation = found.get("message") if isinstance(found, dict) else None
        raise EngineError(
            f"{what}: {explanation or reason}", ENGINE_HINT, output=body.decode(errors="replace")
        )
    return found


def _unreachable(exc: BaseException) -> EngineError:
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    return EngineError(
        f"the Docker engine is not reachable at {where}", ENGINE_HINT, output=str(exc)
    )


def _shown(argv: list[str]) -> str:
    import shlex

    # `-e KEY=value` may carry a secret: the debug line shows the key only
    return shlex.join(
        f"{a.split('=', 1)[0]}=…" if i and argv[i - 1] == "-e" else a for i, a in enumerate(argv)
    )


def _follow(stream: Any, deadline: float | None) -> Iterator[bytes]:
    """Whatever arrived, as soon as it arrived, until EOF or the deadline."""
    import select

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
    import queue
    import threading

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


def _container_info(raw: dict[str, Any]) -> ContainerInfo:
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
