"""Locks: commands that change the same stack at once lose no update; a waiting one says so.

The races run real stackctl processes. A launcher imports stackctl once and forks one
process per command; every process waits at a shared gate (a pipe closing), so the
competing commands start their read-modify-write at the same moment.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stackctl.engine_fake import FakeEngine
from stackctl.envfile import read_env
from stackctl.errors import EngineError
from tests.conftest import RUN_PREFIX

ROUNDS = 20
NEW_JWT = base64.urlsafe_b64encode(b"\x07" * 32).decode()  # a valid value for `secrets set`

LAUNCHER = r"""
import json, os, sys

# warm before the gate: imports and parsed recipes are shared by every forked command
import dotenv, jinja2, rich.console, stackctl.console, stackctl.files, stackctl.render
import stackctl.cli, stackctl.secrets, stackctl.recipe, stackctl.stack, stackctl.summary
stackctl.recipe.all_recipes()
import contextlib, io
with contextlib.redirect_stdout(io.StringIO()):  # typer imports its parsing helpers on first use
    try:
        stackctl.cli.app(["recipes", "show", "ente"], standalone_mode=False)
    except BaseException:
        pass
try:  # a render whose engine answers with no networks, so that allocations are saved
    import stackctl.allocate
    stackctl.allocate.docker_networks_or_none = lambda *engine: {}
except ImportError:
    pass

def run_all(commands):
    gate_read, gate_write = os.pipe()
    children = []
    for i, cmd in enumerate(commands):
        out = cmd["out"]
        pid = os.fork()
        if pid == 0:
            os.close(gate_write)
            os.environ["STACKCTL_CONFIG"] = cmd["config"]
            stdin = os.open(out + ".in", os.O_RDWR | os.O_CREAT)
            os.write(stdin, cmd.get("stdin", "").encode())
            os.lseek(stdin, 0, 0)
            os.dup2(stdin, 0)
            os.dup2(os.open(out + ".out", os.O_WRONLY | os.O_CREAT), 1)
            os.dup2(os.open(out + ".err", os.O_WRONLY | os.O_CREAT), 2)
            os.read(gate_read, 1)  # returns when the launcher closes the gate
            sys.argv = ["stackctl", *cmd["argv"]]
            code = 0
            try:
                stackctl.cli.main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        children.append(pid)
    os.close(gate_read)
    os.close(gate_write)  # open the gate for every child at once
    return [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]

results = []
for step in json.load(sys.stdin):
    results.append(run_all(step))
json.dump(results, sys.stdout)
"""


def site(root: Path) -> str:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "stackctl.toml"
    path.write_text(
        f'domain = "test.lan"\nstacks_root = "{root}/stacks"\ndata_root = "{root}/data"\n'
        f'subnet_pool = ["10.213.0.0/16"]\n'
        # the renders read the engine's networks: never a machine's own ente.lan
        f'name_prefix = "{RUN_PREFIX}"\n'
    )
    return str(path)


def launch(steps: list[list[dict]], tmp_path: Path) -> list[list[int]]:
    """Run each step's commands at once (one process each); steps one after another."""
    script = tmp_path / "launcher.py"
    script.write_text(LAUNCHER)
    done = subprocess.run(
        [sys.executable, str(script)],
        input=json.dumps(steps),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def output(out: str) -> str:
    return Path(out + ".out").read_text() + Path(out + ".err").read_text()


def test_competing_commands_lose_no_update(tmp_path):
    setup, race, checks = [], [], []
    for n in range(ROUNDS):
        r = tmp_path / f"round{n}"
        gen, rot, fresh, alloc = (site(r / k) for k in ("gen", "rotate", "fresh", "alloc"))
        setup.append({"argv": ["secrets", "gen", "ente"], "config": rot, "out": f"{r}/setup"})
        race += [
            # two gens of one stack: one creates, the other finds every secret present
            {"argv": ["secrets", "gen", "ente"], "config": gen, "out": f"{r}/gen1"},
            {"argv": ["secrets", "gen", "ente"], "config": gen, "out": f"{r}/gen2"},
            # a rotation and a set of another secret of the same stack: both stay
            {
                "argv": ["secrets", "rotate", "--force", "ente", "ENTE_KEY_HASH"],
                "config": rot,
                "out": f"{r}/rotate",
            },
            {
                "argv": ["secrets", "set", "ente", "ENTE_JWT_SECRET"],
                "config": rot,
                "stdin": NEW_JWT + "\n",
                "out": f"{r}/set",
            },
            # a gen and a set of a fresh stack: the value set is the one kept
            {"argv": ["secrets", "gen", "ente"], "config": fresh, "out": f"{r}/gen3"},
            {
                "argv": ["secrets", "set", "ente", "ENTE_JWT_SECRET"],
                "config": fresh,
                "stdin": NEW_JWT + "\n",
                "out": f"{r}/set2",
            },
            # two stacks allocating a subnet at once: they get different ones
            {"argv": ["render", "ente"], "config": alloc, "out": f"{r}/render1"},
            {"argv": ["render", "jellyfin"], "config": alloc, "out": f"{r}/render2"},
        ]
        checks.append(r)
    steps = [setup, *[race[i : i + 8] for i in range(0, len(race), 8)]]
    # the rotation must replace the value the setup made
    results = launch(steps[:1], tmp_path)
    assert results == [[0] * ROUNDS]
    before = {r: read_env(r / "rotate/stacks/docker-ente/.env") for r in checks}
    results = launch(steps[1:], tmp_path)

    lost, unchecked = [], []
    for r, codes in zip(checks, results, strict=True):
        for name, code in zip(
            ("gen1", "gen2", "rotate", "set", "gen3", "set2", "render1", "render2"),
            codes,
            strict=True,
        ):
            assert code == 0, output(f"{r}/{name}")
        created = ["created" in output(f"{r}/{g}") for g in ("gen1", "gen2")]
        if created.count(True) != 1:
            lost.append(f"{r.name}: both gens created the secrets")
        after = read_env(r / "rotate/stacks/docker-ente/.env")
        if after["ENTE_KEY_HASH"] == before[r]["ENTE_KEY_HASH"]:
            lost.append(f"{r.name}: the rotation was lost")
        if after["ENTE_JWT_SECRET"] != NEW_JWT:
            lost.append(f"{r.name}: the set was lost (beside a rotation)")
        if read_env(r / "fresh/stacks/docker-ente/.env")["ENTE_JWT_SECRET"] != NEW_JWT:
            lost.append(f"{r.name}: the set was lost (beside a gen)")
        if "engine not reachable" in output(f"{r}/render1"):
            unchecked.append(r.name)  # with no engine, render saves no subnet to race for
            continue
        subnets = [
            json.loads((r / f"alloc/stacks/docker-{s}/.stackctl/state.json").read_text())
            .get("network", {})
            .get("subnet")
            for s in ("ente", "jellyfin")
        ]
        if None in subnets or subnets[0] == subnets[1]:
            lost.append(f"{r.name}: both stacks were given {subnets[0]}")
    assert not lost, f"{len(lost)} lost updates in {ROUNDS} rounds:\n" + "\n".join(lost)
    if unchecked:
        pytest.skip(f"the subnet race needs a running Docker engine ({len(unchecked)} rounds)")


HOLDER = r"""
import sys
sys.argv = ["stackctl", "deploy", "ente"]
from stackctl.locking import stack_lock
from stackctl.settings import load_site
with stack_lock(load_site(), "ente"):
    print("held", flush=True)
    sys.stdin.readline()  # until the test lets go
"""


@pytest.fixture
def holder(tmp_path, monkeypatch):
    """Another stackctl process holding the ente stack's lock until its stdin closes."""
    monkeypatch.setenv("STACKCTL_CONFIG", site(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline() == "held\n"
    yield proc
    proc.stdin.close()
    proc.wait(timeout=60)


def stackctl(*args: str, timeout_setting: int) -> subprocess.Popen:
    config = Path(os.environ["STACKCTL_CONFIG"])
    config.write_text(config.read_text() + f"lock_timeout = {timeout_setting}\n")
    return subprocess.Popen(
        [sys.executable, "-m", "stackctl", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_waiting_command_says_who_holds_the_lock_and_gives_up(holder, tmp_path):
    waiter = stackctl("secrets", "gen", "ente", timeout_setting=1)
    stdout, stderr = waiter.communicate(timeout=60)
    assert waiter.returncode == 75
    waiting = f"waiting for the lock on stack ente held by pid {holder.pid} (stackctl deploy ente)"
    assert stderr.splitlines()[0] == f"warning: {waiting}"
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: gave up after 1s {waiting}"], stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "stacks/docker-ente/.env").exists()


def test_a_waiting_command_goes_on_when_the_lock_is_free(holder, tmp_path):
    waiter = stackctl("secrets", "gen", "ente", timeout_setting=60)
    first = waiter.stderr.readline()
    assert "waiting for the lock on stack ente" in first
    assert waiter.poll() is None  # still waiting
    holder.stdin.close()  # the other command finishes
    stdout, stderr = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, stderr
    assert "created" in stdout
    assert read_env(tmp_path / "stacks/docker-ente/.env")["ENTE_JWT_SECRET"]


@pytest.fixture
def writes_checked(site_file, tmp_path, monkeypatch):
    """Every file replaced under a stack folder, and whether that stack's lock was held then.

    All of stackctl's writers (state, .env, rendered files, kept values) end in os.replace."""
    from stackctl import locking

    site_file()
    stacks = (tmp_path / "stacks").absolute()
    seen: list[tuple[str, bool]] = []
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        target = Path(dst).absolute()
        if target.is_relative_to(stacks):
            folder = stacks / target.relative_to(stacks).parts[0]
            held = (folder / ".stackctl" / "lock").absolute() in locking._held
            seen.append((str(target.relative_to(stacks)), held))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    engine = FakeEngine()

    def compose_up(*args, **kwargs):  # deploy has written everything by then; stop it there
        raise EngineError("compose up stopped by the test")

    monkeypatch.setattr(engine, "compose_up", compose_up)
    monkeypatch.setattr("stackctl.engine.open_engine", lambda: engine)
    return seen


def test_every_write_to_a_stack_happens_under_its_lock(writes_checked, run_cli, monkeypatch):
    commands = [
        ("secrets", "gen", "ente"),
        ("secrets", "rotate", "--force", "ente", "ENTE_JWT_SECRET"),
        ("secrets", "set", "ente", "ENTE_JWT_SECRET"),
        ("render", "ente"),
        ("network", "release", "ente"),
        ("render", "collabora"),
        ("deploy", "ente"),
        ("run", "ente", "promote-admin", "1580559962386438"),
        ("down", "ente"),
    ]
    for command in commands:
        stdin = io.TextIOWrapper(io.BytesIO(f"{NEW_JWT}\n".encode()))
        monkeypatch.setattr(sys, "stdin", stdin)
        result = run_cli(*command)
        if command[0] == "deploy":
            assert "compose up stopped by the test" in result.stderr
        else:
            assert result.exit_code == 0, (command, result.stderr)
    assert len(writes_checked) >= len(commands)
    assert [path for path, held in writes_checked if not held] == []
