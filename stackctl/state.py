"""Per-stack state kept beside the compose file, in <stack dir>/.stackctl/state.json.

It holds what must survive re-runs and reinstalls: the network allocation, the hash of
every file stackctl wrote (to spot hand edits), the bootstrap journal and facts learned
by actions. It never holds a secret. Back it up with the stack folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackctl.errors import StackctlError

STATE_DIR = ".stackctl"
STATE_FILE = "state.json"


@dataclass
class State:
    path: Path
    network: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    journal: dict[str, dict[str, Any]] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    deployed: str = ""

    def save(self) -> None:
        data = {
            "network": self.network,
            "files": self.files,
            "journal": self.journal,
            "facts": self.facts,
            "deployed": self.deployed,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)


def state_path(stack_dir: Path) -> Path:
    return stack_dir / STATE_DIR / STATE_FILE


def load_state(stack_dir: Path) -> State:
    path = state_path(stack_dir)
    if not path.exists():
        return State(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StackctlError(
            f"cannot read stack state {path}: {exc}",
            "restore it from backup or move it aside to start over",
        ) from exc
    return State(
        path,
        network=data.get("network", {}),
        files=data.get("files", {}),
        journal=data.get("journal", {}),
        facts=data.get("facts", {}),
        deployed=data.get("deployed", ""),
    )


def other_allocations(stacks_root: Path, stack: str) -> dict[str, str]:
    """Subnets already given to other stacks on this server: stack -> subnet."""
    found = {}
    if not stacks_root.is_dir():
        return found
    for candidate in stacks_root.glob(f"docker-*/{STATE_DIR}/{STATE_FILE}"):
        name = candidate.parent.parent.name.removeprefix("docker-")
        if name == stack:
            continue
        try:
            subnet = (
                json.loads(candidate.read_text(encoding="utf-8")).get("network", {}).get("subnet")
            )
        except (OSError, ValueError):
            continue
        if subnet:
            found[name] = subnet
    return found
