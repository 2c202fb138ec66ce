"""The hostile corpus: bad input must end in one `error:` line with a hint, a non-zero exit
that is not a crash, and a tree exactly as it was.

Every case runs in a fresh copy of one small server (`world`): a site file, an Ente stack
with secrets and rendered files, and a Mastodon stack beside it. The engine is out of reach
(DOCKER_HOST names no socket), so these tests never touch a real engine.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "corpus"
CRASH = 70


def site_text(root: Path) -> str:
    return (
        'domain = "test.lan"\n'
        f'data_root = "{root}/data"\n'
        f'stacks_root = "{root}/stacks"\n'
        'subnet_pool = ["10.213.0.0/16"]\n'
        f'proxy_root = "{root}/proxyroot"\n'
    )


def snapshot(root: Path) -> dict[str, tuple[str, int, bytes | str]]:
    """Every path under root: its type, mode and content (or link target)."""
    found: dict[str, tuple[str, int, bytes | str]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            info = path.lstat()
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                found[rel] = ("link", info.st_mode, os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                found[rel] = ("dir", info.st_mode, b"")
            else:
                found[rel] = ("file", info.st_mode, path.read_bytes())
    return found


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error: ")]


def _invoke(argv: list[str], stdin: str = "") -> Outcome:
    """stackctl's real entry point, in-process, with its output captured."""
    import io

    from stackctl import cli
    from stackctl.commands import options

    out, err = io.StringIO(), io.StringIO()
    saved = (sys.argv, sys.stdin, sys.stdout, sys.stderr)
    # the console writes to whatever sys.stdout and sys.stderr are at the time
    sys.argv, sys.stdin, sys.stdout, sys.stderr = (
        ["stackctl", *argv],
        io.TextIOWrapper(io.BytesIO(stdin.encode())),
        out,
        err,
    )
    options.config_path, options.verbose = None, 0
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv, sys.stdin, sys.stdout, sys.stderr = saved
    return Outcome(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def world_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """Built once: where every case's world lives, and a pristine copy of it."""
    root = tmp_path_factory.mktemp("hostile") / "world"
    pristine = root.with_name("pristine")
    root.mkdir()
    (root / "stackctl.toml").write_text(site_text(root))
    env = {"STACKCTL_CONFIG": str(root / "stackctl.toml"), "DOCKER_HOST": f"unix://{root}.sock"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        patch.chdir(root)
        for argv in (
            ["secrets", "gen", "ente"],
            ["render", "ente"],
            ["secrets", "gen", "mastodon"],
            ["render", "mastodon"],
        ):
            outcome = _invoke(argv)
            assert outcome.exit_code == 0, (argv, outcome.stderr)
    shutil.copytree(root, pristine, symlinks=True)
    yield root, pristine


@pytest.fixture
def world(world_template: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the small server, at the same absolute path for every case."""
    root, pristine = world_template
    _make_writable(root)
    shutil.rmtree(root)
    shutil.copytree(pristine, root, symlinks=True)
    monkeypatch.setenv("STACKCTL_CONFIG", str(root / "stackctl.toml"))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{root}.sock")
    monkeypatch.setenv("XDG_CACHE_HOME", str(root.with_name("cache")))
    monkeypatch.chdir(root)
    return root


def _make_writable(root: Path) -> None:
    for folder, dirs, _files in os.walk(root):
        for name in dirs:
            os.chmod(Path(folder, name), 0o700)


@pytest.fixture
def refuses(world: Path) -> Callable[..., Outcome]:
    """Run a command that must be refused; check the whole contract, return the outcome."""

    def run(
        *argv: str,
        exit_code: int | None = None,
        mentions: str = "",
        stdin: str = "",
        may_add: tuple[str, ...] = (),
    ) -> Outcome:
        before = snapshot(world)
        outcome = _invoke(list(argv), stdin)
        after = snapshot(world)
        shown = f"stackctl {' '.join(argv)}\n{outcome.stderr}"
        assert "Traceback" not in outcome.stderr, shown
        assert outcome.exit_code != CRASH, f"crashed: {shown}"
        assert outcome.exit_code != 0, f"silently accepted: {shown}"
        if exit_code is not None:
            assert outcome.exit_code == exit_code, shown
        assert len(outcome.errors) == 1, shown
        assert "\nhint: " in f"\n{outcome.stderr}", f"no hint: {shown}"
        if mentions:
            assert mentions in outcome.errors[0], shown
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        changed = [k for k in changed if not (k in may_add and k not in before)]
        assert not changed, f"changed {changed}: {shown}"
        return outcome

    return run
