"""On the real engine: a value stackctl writes to `.env` or to an `env_file` arrives in the
container byte for byte, whatever it holds ($, #, quotes, backslashes, spaces, unicode)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stackctl.envfile import merge_env, read_env
from stackctl.render import environment
from tests.engine.conftest import names

pytestmark = pytest.mark.engine

IMAGE = "stackctl-test/debian:bookworm"

VALUES = [
    "$HOME #x",
    "${HOME:-fallback} $$ $",
    "abc\\",
    "\\",
    "it's",
    "'single' \"double\"",
    "back\\slash \\$ \\\\ \\'",
    "  spaced  ",
    "tab\there",
    "é ☃ 𝄞",
    "#hash-first",
    "a=b=c",
    "plain",
]


@pytest.fixture
def project(tmp_path: Path, engine_ready: None):
    name = names("envtest").project  # this run's: the leak sweep finds what is left
    yield name
    subprocess.run(
        ["docker", "compose", "-p", name, "down", "--remove-orphans", "--timeout", "2"],
        cwd=tmp_path,
        capture_output=True,
    )


def test_values_arrive_in_the_container_unchanged(tmp_path: Path, project: str):
    names = [f"V{i}" for i in range(len(VALUES))]
    # .env: what `secrets gen/set/rotate` write, reaching the service through "${NAME:?...}"
    merge_env(tmp_path / ".env", dict(zip(names, VALUES, strict=True)))
    assert read_env(tmp_path / ".env") == dict(zip(names, VALUES, strict=True))
    # an env_file rendered through the templates' `env_value` filter
    template = environment(tmp_path).from_string(
        "{% for k, v in values %}W{{ k }}={{ v | env_value }}\n{% endfor %}"
    )
    (tmp_path / "app.env").write_text(template.render(values=list(enumerate(VALUES))))
    interpolated = "".join(f'      {n}: "${{{n}:?missing}}"\n' for n in names)
    (tmp_path / "docker-compose.yml").write_text(
        f"services:\n  probe:\n    image: {IMAGE}\n    network_mode: none\n"
        f"    env_file: app.env\n    environment:\n{interpolated}"
    )
    done = subprocess.run(
        [
            "docker",
            "compose",
            "-p",
            project,
            "run",
            "--rm",
            "--no-deps",
            "-T",
            "probe",
            "env",
            "-0",
        ],
        cwd=tmp_path,
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr.decode()
    seen = dict(
        item.decode("utf-8").split("=", 1) for item in done.stdout.split(b"\0") if b"=" in item
    )
    for index, value in enumerate(VALUES):
        assert seen[f"V{index}"] == value, f".env: {value!r}"
        assert seen[f"W{index}"] == value, f"env_file: {value!r}"
