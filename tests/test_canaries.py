"""No secret is ever printed or written outside a secret file.

Every command runs (normal and error paths, with -v) on a Mastodon stack whose secrets are
canaries: every value that was ever in its .env, including hand-set, rotated and short
ones. None may appear in any output, nor in any file but the secret files themselves.
The engine is unreachable here, so the commands that need it take their error paths.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from stackctl.envfile import read_env

# provided secrets, set by hand: every character that needs quoting, and a short one
PROVIDED = {
    "SMTP_PASSWORD": "cAnary-smtp $HOME #x 'q' \"d\" \\",
    "OIDC_CLIENT_SECRET": "cAnary-oidc",
    "AWS_ACCESS_KEY_ID": "Kq7",
    "AWS_SECRET_ACCESS_KEY": "cAnary-aws\\",
}

SITE = """
[mail]
relay_host = "smtp.test.lan"
username = "mailer"

[sso]
enabled = true
issuer = "https://sso.test.lan/realms/home"

[stacks.mastodon]
s3 = true
s3_bucket = "toots"
"""


def commands() -> list[tuple[list[str], bytes | None]]:
    """(argv, stdin) for every command; the error paths are the ones that fail."""
    return [
        (["recipes"], None),
        (["recipes", "show", "mastodon"], None),
        (["render", "mastodon"], None),  # then a hand edit: the diffs below show secret lines
        (["secrets", "gen", "mastodon"], None),
        (["secrets", "gen", "mastodon", "--dry-run"], None),
        (["secrets", "show", "mastodon"], None),
        (["secrets", "show", "mastodon", "--json"], None),
        (["secrets", "set", "mastodon", "SMTP_PASSWORD"], b"cAnary-smtp2 $x\n"),
        (["secrets", "set", "mastodon", "DB_PASS"], b"cAnary-db-refused\n"),
        (["secrets", "set", "mastodon", "DB_PASS"], b"cAnary-two\ncAnary-lines\n"),
        (["secrets", "set", "mastodon", "OTP_SECRET"], b"cAnary-not-hex\n"),
        (["secrets", "set", "mastodon", "NO_SUCH_SECRET"], b"cAnary-unknown\n"),
        (["secrets", "rotate", "mastodon", "SECRET_KEY_BASE"], None),
        (["secrets", "rotate", "mastodon", "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY"], None),
        (["secrets", "rotate", "mastodon", "VAPID_PRIVATE_KEY", "--force"], None),
        (["plan", "mastodon"], None),
        (["plan", "mastodon", "--diff"], None),
        (["plan", "mastodon", "--json"], None),
        (["render", "mastodon"], None),  # a conflict now
        (["render", "mastodon", "--force"], None),
        (["deploy", "mastodon", "--dry-run"], None),
        (["deploy", "mastodon"], None),
        (["status"], None),
        (["status", "mastodon"], None),
        (["down", "mastodon"], None),
        (["logs", "mastodon", "web"], None),
        (["extract", "mastodon", "nothing"], None),
        (["run", "mastodon", "tootctl", "accounts", "list"], None),
        (["images", "list"], None),
        (["network", "plan"], None),
        (["proxy", "mastodon"], None),
        (["host-snippets", "mastodon"], None),
    ]


def secret_files(stack_dir: Path) -> set[Path]:
    kept = stack_dir / ".stackctl" / "secrets-old"
    return {
        stack_dir / ".env",
        stack_dir / ".env.production",
        *(kept.iterdir() if kept.exists() else ()),
        *stack_dir.glob(".env.production.stackctl-backup-*"),
    }


def test_no_canary_in_any_output_or_non_secret_file(
    site_file, run_cli, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    site_file(extra=SITE)
    stack_dir = tmp_path / "stacks" / "docker-mastodon"
    assert run_cli("-v", "secrets", "gen", "mastodon").exit_code == 0
    for name, value in PROVIDED.items():
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(value.encode() + b"\n")))
        assert run_cli("-v", "secrets", "set", "mastodon", name).exit_code == 0
    canaries = set(read_env(stack_dir / ".env").values())
    outputs = []
    failed = 0
    edited = False
    for argv, stdin in commands():
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        result = run_cli("-v", *argv)
        failed += result.exit_code != 0
        outputs.append((argv, result.stdout + result.stderr))
        canaries |= set(read_env(stack_dir / ".env").values())
        if argv == ["render", "mastodon"] and not edited:
            production = stack_dir / ".env.production"
            production.write_text(production.read_text().replace("DB_HOST=db", "DB_HOST=x"))
            edited = True
    canaries |= {
        "cAnary-db-refused",
        "cAnary-two",
        "cAnary-lines",
        "cAnary-not-hex",
        "cAnary-unknown",
    }
    canaries.discard("")
    assert failed >= 15  # the error paths ran
    diff = next(text for argv, text in outputs if argv == ["plan", "mastodon", "--diff"])
    assert "-SECRET_KEY_BASE=<secret " in diff and "-VAPID_PRIVATE_KEY=<secret " in diff
    for argv, text in outputs:
        for canary in canaries:
            assert canary not in text, f"{' '.join(argv)} printed a secret"
    secret = secret_files(stack_dir)
    for path in tmp_path.rglob("*"):
        if path.is_file() and path not in secret:
            content = path.read_bytes()
            for canary in canaries:
                assert canary.encode() not in content, f"{path} holds a secret"


@pytest.mark.parametrize(
    "line",
    ["SECRET_KEY_BASE='cAnary-broken\\'", 'SECRET_KEY_BASE="cAnary\\qbad"', "cAnary-no-equals"],
)
def test_a_broken_env_is_reported_without_its_content(site_file, run_cli, tmp_path, line):
    site_file()
    stack_dir = tmp_path / "stacks" / "docker-mastodon"
    stack_dir.mkdir(parents=True, mode=0o700)
    (stack_dir / ".env").write_text(f"OTP_SECRET=cAnary-otp\n{line}\n")
    for argv in (["secrets", "gen", "mastodon"], ["secrets", "show", "mastodon"]):
        result = run_cli("-v", *argv)
        assert result.exit_code == 1 and ".env:2: " in result.stderr
        assert "cAnary" not in result.stdout + result.stderr


def _recipe_names() -> list[str]:
    from stackctl.recipe import all_recipes

    return sorted(all_recipes())


@pytest.mark.parametrize("name", _recipe_names())
def test_no_recipe_prints_or_spreads_a_secret(name, site_file, run_cli, tmp_path, monkeypatch):
    """Every recipe: provided canaries, hand edits, rotations, then every reading command."""
    from stackctl.recipe import get_recipe

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    site_file()
    recipe = get_recipe(name)
    stack_dir = tmp_path / "stacks" / f"docker-{name}"
    outputs = [run_cli("-v", "secrets", "gen", name)]
    for spec in recipe.secrets:
        if spec.format == "provided":
            value = f"cAnary-{spec.name} $x #y 'q' \\"
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(value.encode())))
            outputs.append(run_cli("-v", "secrets", "set", name, spec.name))
    outputs.append(run_cli("-v", "render", name))
    for path in stack_dir.rglob("*"):  # a hand edit everywhere: diffs show their context
        if path.is_file() and ".stackctl" not in path.parts and path.name != ".env":
            path.chmod(0o600)
            path.write_bytes(path.read_bytes() + b"# edited\n")
    canaries = set(read_env(stack_dir / ".env").values())
    for spec in recipe.secrets:
        if spec.format != "provided" and not spec.critical:
            outputs.append(run_cli("-v", "secrets", "rotate", name, spec.name))
    for argv in (
        ["plan", name, "--diff"],
        ["secrets", "show", name],
        ["secrets", "show", name, "--json"],
        ["recipes", "show", name],
        ["deploy", name, "--dry-run"],
        ["render", name],
        ["render", name, "--force"],
    ):
        outputs.append(run_cli("-v", *argv))
    canaries |= set(read_env(stack_dir / ".env").values())
    canaries.discard("")
    assert any(r.exit_code == 0 for r in outputs) and any(r.exit_code for r in outputs)
    for result in outputs:
        for canary in canaries:
            assert canary not in result.stdout + result.stderr
    secret = {
        stack_dir / ".env",
        *(stack_dir / f.path for f in recipe.files if f.secret),
        *(stack_dir / f.path for f in recipe.secret_files),
    }
    for path in tmp_path.rglob("*"):
        inside = path.relative_to(tmp_path).parts
        if not path.is_file() or path in secret or "secrets-old" in inside:
            continue
        if any(path.name.startswith(s.name + ".stackctl-backup-") for s in secret):
            continue
        content = path.read_bytes()
        for canary in canaries:
            assert canary.encode() not in content, f"{path} holds a secret"
