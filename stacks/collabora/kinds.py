"""Collabora Online: the discovery check after start, and connecting Nextcloud.

The collabora/code image has neither curl nor nc, so a compose health check could only
open a TCP socket; instead stackctl asks /hosting/discovery from the host, through the
published port, the way Nextcloud will. The answer also shows whether coolwsd builds its
editor URLs from the public https name (server_name and ssl.termination set right).
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from stackctl.errors import StackctlError
from stackctl.schema import optional
from stackctl.settings import local_address
from stackctl.steps import ActionResult, action_kind, step_kind
from stackctl.wait import poll

if TYPE_CHECKING:
    from collections.abc import Mapping

    from stackctl.engine import Engine
    from stackctl.recipe import Action, Step
    from stackctl.stack import Stack
    from stackctl.steps import StepContext

WAIT_SECONDS = 180


def discovery_urls(document: bytes) -> list[str]:
    """The distinct `urlsrc` prefixes (up to the query) of a WOPI discovery document."""
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.fromstring(document)
    if root.tag != "wopi-discovery":
        raise ValueError(f"root element is <{root.tag}>, not <wopi-discovery>")
    found = {a.get("urlsrc", "").split("?")[0] for a in root.iter("action") if a.get("urlsrc")}
    return sorted(found)


def fetch_discovery(port: int, seconds: float, address: str = "127.0.0.1") -> bytes:
    url = f"http://{address}:{port}/hosting/discovery"

    def attempt() -> tuple[bytes | None, str]:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            return None, f"HTTP {exc.code}"
        except OSError as exc:
            return None, str(getattr(exc, "reason", exc))
        if b"<wopi-discovery" in body:
            return body, ""
        return None, "an answer without <wopi-discovery>"

    return poll(
        attempt,
        seconds,
        lambda last: StackctlError(
            f"Collabora's {url} did not answer with a discovery document in {seconds:.0f}s ({last})",
            "see `stackctl logs collabora code`; coolwsd needs SYS_ADMIN and SYS_CHROOT "
            "(`coolmount: Operation not permitted` means a capability is missing)",
        ),
    )


@step_kind("collabora-discovery", {"wait_seconds": optional(int, float)})
def discovery(step: Step, ctx: StepContext) -> tuple[bool, str]:
    import xml.etree.ElementTree as ElementTree

    from stackctl import console

    settings = ctx.stack.settings
    body = fetch_discovery(
        int(settings["port"]),
        float(step.options.get("wait_seconds", WAIT_SECONDS)),
        local_address(settings),
    )
    try:
        urls = discovery_urls(body)
    except (ElementTree.ParseError, ValueError) as exc:
        raise StackctlError(f"Collabora's discovery document does not parse: {exc}") from exc
    expected = f"https://{settings['hostname']}/"
    wrong = [u for u in urls if not u.startswith(expected)]
    if not urls or wrong:
        seen = wrong[0] if wrong else "no editor URL at all"
        console.warn(
            f"Collabora's discovery names {seen}, not {expected}...: browsers will be sent there "
            "(check server_name and that TLS ends at the proxy)"
        )
        return False, f"discovery answers, but with {seen}"
    return False, f"discovery answers; editor at {urls[0]}"


# -- connecting Nextcloud --------------------------------------------------------------------


def occ_commands(settings: Mapping[str, Any]) -> list[list[str]]:
    """occ arguments that point Nextcloud Office (richdocuments) at this server."""
    commands = [
        [
            "config:app:set",
            "richdocuments",
            "wopi_url",
            f"--value=https://{settings['hostname']}",
        ],
        # checks /hosting/discovery and /hosting/capabilities, sets public_wopi_url
        ["richdocuments:activate-config"],
    ]
    if settings["wopi_allowlist"]:
        commands.append(
            [
                "config:app:set",
                "richdocuments",
                "wopi_allowlist",
                "--value=" + ",".join(settings["wopi_allowlist"]),
            ]
        )
    return commands


def richdocuments_state(app_list: str) -> str:
    """enabled | disabled | not installed | unknown, from `occ app:list --output=json`."""
    import json

    try:
        apps = json.loads(app_list)
    except ValueError:
        return "unknown"
    if not isinstance(apps, dict):
        return "unknown"
    for state in ("enabled", "disabled"):
        if "richdocuments" in (apps.get(state) or {}):
            return state
    return "not installed"


@action_kind("collabora-nextcloud")
def connect_nextcloud(
    stack: Stack, engine: Engine, action: Action, values: list[Any]
) -> ActionResult:
    from rich.markup import escape

    from stackctl import console

    settings = stack.settings
    occ = list(settings["nextcloud_occ"])
    container = settings.get("nextcloud_container")
    if not container:
        console.info(
            "Run these in Nextcloud's folder as the web server's user "
            f"(e.g. sudo -u {escape(settings['nextcloud_user'])} ...), once "
            f"`{escape(shlex.join([*occ, 'app:list']))}` lists richdocuments as enabled:"
        )
        for argv in occ_commands(settings):
            console.info("  " + escape(shlex.join([*occ, *argv])))
        return ActionResult(
            "occ commands printed; set nextcloud_container to have stackctl run them"
        )
    user = settings["nextcloud_user"]
    listed = engine.exec(container, [*occ, "app:list", "--output=json"], user=user)
    state = richdocuments_state(listed.output) if not listed.exit_code else "unknown"
    if state != "enabled":
        how = (
            "occ app:enable richdocuments"
            if state == "disabled"
            else "occ app:install richdocuments"
        )
        return ActionResult(
            f"Nextcloud Office (richdocuments) is {state} in {container}; "
            f"nothing was configured: run `{how}` there first",
            1,
        )
    for argv in occ_commands(settings):
        command = [*occ, *argv]
        console.info(
            f"$ docker exec -u {escape(settings['nextcloud_user'])} {escape(container)} "
            + escape(shlex.join(command))
        )
        result = engine.exec(container, command, user=settings["nextcloud_user"])
        if result.output.strip():
            console.info(escape(result.output.rstrip()))
        if result.exit_code:
            return ActionResult(
                f"occ {argv[0]} failed with exit code {result.exit_code} in {container}",
                result.exit_code,
            )
    return ActionResult(f"Nextcloud in {container} now uses https://{settings['hostname']}")
