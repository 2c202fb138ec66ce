"""Shared fixtures. Real-engine and real-proxy tests are opt-in: --engine, --proxies."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

# Put in front of every compose project, container and network this test session makes
# (the site's name_prefix, stackctl/names.py), so a run never meets a user's stacks (ente,
# ente-museum, ente.lan) or another run's, and removes only what it made.
RUN_PREFIX = f"t{secrets.token_hex(4)}-"

# Local builds standing in for upstream images (tests/images/build.sh makes them).
TEST_IMAGES = {
    "ghcr.io/ente/server": "stackctl-test/museum-standin:latest",
    "ghcr.io/ente/web": "stackctl-test/ente-web-standin:latest",
    "quay.io/minio/minio": "stackctl-test/minio-standin:latest",
    "alpine/socat": "stackctl-test/socat:latest",
    "postgres": "stackctl-test/postgres:15",
    # real apps built from upstream source (tests/images/etherpad, wbo), not stand-ins;
    # Etherpad 2.5.3 stands for the pinned 3.3.1, which is not verified
    "etherpad/etherpad": "stackctl-test/etherpad:2.5.3",
    "lovasoa/wbo": "stackctl-test/wbo:2.17.0",
    "mariadb": "stackctl-test/mariadb:10.11",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--engine",
        action="store_true",
        help="run tests that need a Docker engine and the local test images",
    )
    parser.addoption(
        "--proxies",
        action="store_true",
        help="run tests that start the real nginx/apache2/caddy/haproxy",
    )


def pytest_configure(config: pytest.Config) -> None:
    """--proxies: every server and module the proxy tests load is checked before any test
    runs, so a missing one stops the run naming its package (not a dlopen error mid-run).
    --engine: likewise an engine that does not answer, or a missing test image."""
    if config.getoption("--proxies"):
        from tests.host_requirements import missing, report

        absent = missing(("proxies",))
        if absent:
            raise pytest.UsageError(f"--proxies given, but the host lacks:\n{report(absent)}")
    if config.getoption("--engine"):
        from tests.engine.conftest import engine_problems

        problems = engine_problems()
        if problems:
            raise pytest.UsageError("--engine given, but " + "; ".join(problems))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for marker, option in (("engine", "--engine"), ("proxies", "--proxies")):
        if config.getoption(option):
            continue
        skip = pytest.mark.skip(reason=f"needs {option}")
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    """Run stackctl in-process through its real entry point and error boundary."""
    from stackctl import cli

    def run(*args: str) -> Result:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["stackctl", *args])
        code = 0
        try:
            cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


@pytest.fixture
def site_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Write a stackctl.toml rooted in tmp_path and point $STACKCTL_CONFIG at it."""
    monkeypatch.chdir(tmp_path)

    def write(
        extra: str = "", pool: str = "10.213.0.0/16", images: dict[str, str] | None = None
    ) -> Path:
        lines = [
            'domain = "test.lan"',
            f'data_root = "{tmp_path}/data"',
            f'stacks_root = "{tmp_path}/stacks"',
            f'subnet_pool = ["{pool}"]',
            f'proxy_root = "{tmp_path}/proxyroot"',
            f'name_prefix = "{RUN_PREFIX}"',
        ]
        text = "\n".join(lines) + "\n" + extra + "\n"
        if images:
            text += "[images]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in images.items())
        path = tmp_path / "stackctl.toml"
        path.write_text(text)
        monkeypatch.setenv("STACKCTL_CONFIG", str(path))
        return path

    return write


@pytest.fixture(autouse=True)
def _shipped_recipes_only() -> Iterator[None]:
    """A test's recipe_paths (set when its site loads) must not leak into the next test."""
    yield
    from stackctl.recipe import use_recipe_paths

    use_recipe_paths(())
