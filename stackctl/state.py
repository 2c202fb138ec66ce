"""Per-stack state kept beside the compose file, in <stack dir>/.stackctl/state.json.

It holds what must survive re-runs and reinstalls: the network allocation, the hash of
every file stackctl wrote (to spot hand edits), the bootstrap journal and facts learned
by actions. It never holds a secret. Back it up with the stack folder.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackctl.atomic import write_atomic
from stackctl.state_check import StateError, allocated_subnet, check_state

STATE_DIR = ".stackctl"
STATE_FILE = "state.json"
PENDING_FILE = "pending.json"
# What a stack can be named: it goes into the compose project name, which allows no more.
STACK_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


@dataclass
class State:
    """A stack's .stackctl/state.json: network, file digests, journal, facts."""

    path: Path
    network: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    journal: dict[str, dict[str, Any]] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    deployed: str = ""
    # digests of files about to be written (.stackctl/pending.json while a write is under
    # way): a file matching one was left by a run that was killed, not edited by a user
    pending: dict[str, str] = field(default_factory=dict)

    def data(self) -> dict[str, Any]:
        return {
            "network": self.network,
            "files": self.files,
            "journal": self.journal,
            "facts": self.facts,
            "deployed": self.deployed,
        }

    def text(self) -> str:
        """The file's content; also a snapshot to compare against (the tables are mutable)."""
        return json.dumps(self.data(), indent=2, sort_keys=True) + "\n"

    def save(self) -> None:
        write_atomic(self.path, self.text(), 0o600, dir_mode=0o700)

    @property
    def pending_path(self) -> Path:
        return self.path.with_name(PENDING_FILE)

    def begin_writes(self, digests: dict[str, str]) -> None:
        """Journal the digests about to be written, before the first write."""
        self.pending = dict(digests)
        text = json.dumps(self.pending, indent=2, sort_keys=True) + "\n"
        write_atomic(self.pending_path, text, 0o600, dir_mode=0o700)

    def end_writes(self) -> None:
        self.pending = {}
        self.pending_path.unlink(missing_ok=True)


def state_path(stack_dir: Path) -> Path:
    return stack_dir / STATE_DIR / STATE_FILE


def load_state(stack_dir: Path) -> State:
    path = state_path(stack_dir)
    for folder in (stack_dir, path.parent):
        if folder.exists() and not folder.is_dir():
            raise StateError(
                f"{folder} is a file, but stackctl keeps a folder there",
                "move the file aside (restore the folder from a backup if you have one)",
            )
    if not path.exists() and not path.is_symlink():
        state = State(path)
    else:
        state = State(path, **check_state(path, read_state_json(path)))
    state.pending = _pending(state.pending_path)
    return state


def _pending(path: Path) -> dict[str, str]:
    """The digests a killed run journaled; only well-formed entries count as stackctl's."""
    if not path.is_file() or path.is_symlink():
        return {}
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError):
        return {}  # a journal cut short vouches for nothing
    if not isinstance(data, dict):
        return {}
    return {
        k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str) and v.isalnum()
    }


def read_state_json(path: Path) -> Any:
    """The parsed JSON of a state file; StateError names the file when it cannot be read."""
    try:
        return json.loads(path.read_bytes().decode("utf-8"), parse_constant=_no_constant)
    except IsADirectoryError:
        problem = "is a folder, not a file"
    except OSError as exc:
        problem = f"cannot be read: {exc.strerror}"
    except UnicodeDecodeError:
        problem = "is not UTF-8 text"
    except RecursionError:
        problem = "nests too deeply"
    except ValueError as exc:
        problem = f"is not valid JSON: {exc}"
    raise StateError(
        f"stack state {path} {problem}",
        "restore the stack folder from a backup, or move state.json aside to start over",
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def other_allocations(stacks_root: Path, stack: str) -> dict[str, str]:
    """Subnets already given to other stacks on this server: stack -> subnet.

    Another stack's unreadable state is an error too: its subnet could be handed out twice."""
    found: dict[str, str] = {}
    if not stacks_root.is_dir():
        return found
    for candidate in sorted(stacks_root.glob(f"docker-*/{STATE_DIR}/{STATE_FILE}")):
        name = candidate.parent.parent.name.removeprefix("docker-")
        if name == stack or not STACK_NAME.fullmatch(name):
            continue  # docker-ente~, docker-ente.bak, docker-ente copy: not a stack's folder
        data = read_state_json(candidate)
        subnet = allocated_subnet(candidate, data)
        if subnet and not _copy_of_another(name, data):
            found[name] = subnet
    return found


def _copy_of_another(name: str, data: Any) -> bool:
    """A folder copied under a name a stack could have (cp -a docker-ente docker-ente-old)
    still records the network of the stack it was copied from: <prefix><stack>.lan."""
    network_name = data["network"].get("name")
    return isinstance(network_name, str) and not network_name.endswith(f"{name}.lan")
