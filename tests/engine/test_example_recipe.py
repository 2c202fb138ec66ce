"""The example recipe from docs/recipes/writing.md, deployed from a site's recipe_paths."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import TEST_IMAGES
from tests.engine.conftest import free_port, teardown_stack

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "recipes" / "example"

pytestmark = pytest.mark.engine


def _read(port: int, seconds: float = 20) -> str:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                data = conn.recv(1024).decode()
                if data:
                    return data
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing answered on port {port}")
        time.sleep(0.3)


def test_the_example_recipe_deploys_from_recipe_paths(engine_ready, site_file, run_cli, tmp_path):
    port = free_port()
    site_file(
        extra=f'recipe_paths = ["{EXAMPLES}"]\n'
        f'[stacks.greeter]\nport = {port}\ngreeting = "hi from the example"\n',
        images=TEST_IMAGES,
    )
    stack_dir = tmp_path / "stacks" / "docker-greeter"
    try:
        result = run_cli("deploy", "greeter")
        assert result.exit_code == 0, result.stderr
        assert "GREETER_TOKEN" in result.stdout and "Try it: `nc 127.0.0.1" in result.stdout
        assert _read(port) == "hi from the example\n"
        assert "greeting-mounted" in (stack_dir / ".stackctl" / "state.json").read_text()
        again = run_cli("deploy", "greeter")
        assert again.exit_code == 0, again.stderr
        assert "GREETER_TOKEN" not in again.stdout  # nothing new the second time
    finally:
        teardown_stack(stack_dir, "greeter")


def test_the_container_user_reads_its_key_and_no_other_user_can(
    engine_ready, site_file, run_cli, tmp_path
):
    folder = tmp_path / "recipes" / "greeter"
    shutil.copytree(EXAMPLES / "greeter", folder)
    with (folder / "recipe.toml").open("a") as toml:
        toml.write(
            '\n[[secret_files]]\nname = "key"\npath = "keys/key.pem"\nformat = "pem-ec"\n'
            "mode = 0o400\nuid = 65532\ngid = 65532\n"
        )
    site_file(extra=f'recipe_paths = ["{folder.parent}"]\n')
    assert run_cli("secrets", "gen", "greeter").exit_code == 0
    key = tmp_path / "stacks" / "docker-greeter" / "keys" / "key.pem"

    def cat_as(user: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["docker", "run", "--rm", "--user", user, "--entrypoint", "cat"]
            + ["-v", f"{key}:/run/key.pem:ro", TEST_IMAGES["alpine/socat"], "/run/key.pem"],
            capture_output=True,
        )

    assert cat_as("65532:65532").stdout == key.read_bytes()
    assert cat_as("1000:1000").returncode != 0
