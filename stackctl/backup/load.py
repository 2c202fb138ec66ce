"""Loading restored dumps during deploy: into a fresh database, before the app starts.

`stackctl restore` leaves each dump in `<stack>/.stackctl/restore/<service>.sql`. Deploy
starts only that database service on its empty data folder, streams the dump in, and
removes the file; the app starts afterwards and finds its data. A load that was killed
leaves `<service>.sql.loading`: the half-loaded folder is kept aside and the load runs again.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from stackctl.backup import dumps
from stackctl.backup.restore import PENDING_DUMPS
from stackctl.engine import Engine
from stackctl.errors import EngineError, StackctlError
from stackctl.stack import Stack

LOADING = ".loading"


def pending_dumps(stack: Stack) -> dict[str, Path]:
    folder = stack.dir / PENDING_DUMPS
    if not folder.is_dir():
        return {}
    found = {}
    for service in stack.recipe.services:
        path = folder / f"{service.name}{dumps.SUFFIX}"
        if path.is_file() and service.backup is not None and service.backup.is_dump:
            found[service.name] = path
    return found


def load_pending_dumps(
    stack: Stack, engine: Engine, wait_seconds: int, on_load=lambda service: None
) -> list[str]:  # type: ignore[no-untyped-def]
    loaded = []
    for service, dump in pending_dumps(stack).items():
        spec = stack.recipe.service(service).backup
        assert spec is not None
        marker = dump.with_name(dump.name + LOADING)
        for folder in spec.data:
            data = stack.data_dir / folder
            if marker.exists() and data.exists():
                # a load was stopped halfway: that folder is not the archive's database
                os.rename(data, data.with_name(f"{data.name}.half-loaded-{int(time.time())}"))
            elif data.is_dir() and any(data.iterdir()):
                raise StackctlError(
                    f"{stack.name}'s {service} has a restored dump to load, but {data} already holds a database",
                    f"move {data} aside (or remove {dump} to keep that database), then deploy again",
                )
            data.mkdir(parents=True, exist_ok=True)
        marker.touch(mode=0o600)
        on_load(service)
        engine.compose_up(
            stack.dir, stack.names.project, services=[service], wait_seconds=wait_seconds
        )
        container = stack.names.container(service)
        dumps.wait_until_ready(
            engine, container, spec, wait_seconds, "the dump stays for the next deploy"
        )
        with dump.open("rb") as source:
            code = engine.exec_stream(container, dumps.load_argv(spec), source, _Discard())
        if code != 0:
            raise EngineError(
                f"loading the restored dump into {container} failed (exit {code})",
                f"see `docker logs {container}`; the dump stays in {dump} for the next deploy",
            )
        dump.unlink()
        marker.unlink()
        loaded.append(service)
    return loaded


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)

    def flush(self) -> None:
        pass
