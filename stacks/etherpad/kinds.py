"""Etherpad's own kinds: its API key file, the Keycloak client, Jitsi's .env lines, and
an image with plugins.

The stock image has no plugins; single sign-on (ep_openid_connect) and the whiteboard
button (ep_whiteboard) need an image built with ETHERPAD_PLUGINS, which `build-image` makes
from Etherpad's source (a folder or a git URL docker can build from).
"""

from __future__ import annotations

import re
import secrets
import string
from typing import TYPE_CHECKING, Any

from stackctl.errors import StackctlError
from stackctl.secret_files import file_format
from stackctl.steps import ActionResult, action_kind

if TYPE_CHECKING:
    from collections.abc import Mapping

    from stackctl.engine import Engine
    from stackctl.recipe import Action, SecretFile
    from stackctl.stack import Stack

_ALPHABET = string.ascii_letters + string.digits
_PLUGIN = re.compile(r"^(@[a-z0-9][a-z0-9._-]*/)?ep_[a-z0-9._-]+(@[A-Za-z0-9.^~<>=*-]+)?$")


def _check_apikey(spec: SecretFile, data: bytes) -> str | None:
    text = data.decode("ascii", "replace")
    if len(text) < 32 or any(c not in _ALPHABET for c in text):
        return "is not an API key of at least 32 letters and digits (no newline)"
    return None


@file_format("etherpad-apikey", check=_check_apikey)
def _apikey(spec: SecretFile) -> bytes:
    # Etherpad compares the whole file with the key a caller sends: no trailing newline
    return "".join(secrets.choice(_ALPHABET) for _ in range(48)).encode()


def pad_url(settings: Mapping[str, Any]) -> str:
    """Public base URL of the pad, without a trailing slash."""
    path = settings["pad_path"] if settings["layout"] == "paths" else ""
    return f"https://{settings['hostname']}{path}"


def whiteboard_url(settings: Mapping[str, Any]) -> str:
    if settings["layout"] == "paths":
        return f"https://{settings['hostname']}{settings['whiteboard_path']}"
    return f"https://{settings['whiteboard_hostname']}"


def keycloak_client(settings: Mapping[str, Any]) -> dict[str, Any]:
    """A confidential OpenID Connect client for ep_openid_connect, in Keycloak's import form."""
    base = pad_url(settings)
    return {
        "clientId": settings["oidc_client_id"],
        "name": settings["title"],
        "protocol": "openid-connect",
        "enabled": True,
        "publicClient": False,
        "clientAuthenticatorType": "client-secret",
        "standardFlowEnabled": True,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False,
        "rootUrl": base + "/",
        "baseUrl": base + "/",
        "redirectUris": [base + "/ep_openid_connect/callback"],
        "webOrigins": [f"https://{settings['hostname']}"],
        "attributes": {"post.logout.redirect.uris": base + "/*"},
    }


@action_kind("etherpad-keycloak-client")
def print_keycloak_client(
    stack: Stack, engine: Engine, action: Action, values: list[Any]
) -> ActionResult:
    from stackctl import console

    console.info(
        "Import this in Keycloak (Clients > Import client), copy the client secret from its "
        f"Credentials tab, then: stackctl secrets set {stack.name} OIDC_CLIENT_SECRET"
    )
    console.print_json(keycloak_client(stack.settings))
    return ActionResult(f"redirect URI {pad_url(stack.settings)}/ep_openid_connect/callback")


def jitsi_env(settings: Mapping[str, Any]) -> list[str]:
    """docker-jitsi-meet's two Etherpad lines: the pad base its web proxy reaches, and the
    public URL with the /p/ pad fragment its front end opens."""
    return [f"ETHERPAD_URL_BASE={pad_url(settings)}", f"ETHERPAD_PUBLIC_URL={pad_url(settings)}/p/"]


@action_kind("etherpad-jitsi-env")
def print_jitsi_env(
    stack: Stack, engine: Engine, action: Action, values: list[Any]
) -> ActionResult:
    from rich.markup import escape

    from stackctl import console

    console.info("Add to docker-jitsi-meet's .env, then recreate its web container:")
    for line in jitsi_env(stack.settings):
        console.info(escape(line))
    return ActionResult("Jitsi's shared documents open this Etherpad")


def build_arguments(values: list[Any], default_plugins: list[str]) -> tuple[str, list[str]]:
    """(source, plugins) from `SOURCE [PLUGIN...]`; the plugins setting when none given."""
    if not values:
        raise StackctlError(
            "build-image needs the Etherpad source: a folder or a git URL",
            "e.g. stackctl run etherpad build-image https://github.com/ether/etherpad.git#v3.3.1",
        )
    source, plugins = str(values[0]), [str(v) for v in values[1:]] or list(default_plugins)
    wrong = [p for p in plugins if not _PLUGIN.fullmatch(p)]
    if wrong:
        raise StackctlError(
            f"not npm Etherpad plugin names: {', '.join(wrong)}",
            "plugins are npm packages named ep_..., e.g. ep_openid_connect ep_whiteboard",
        )
    return source, plugins


@action_kind("etherpad-build-image")
def build_image(stack: Stack, engine: Engine, action: Action, values: list[Any]) -> ActionResult:
    source, plugins = build_arguments(values, stack.settings["plugins"])
    tag = f"{stack.settings['image']}:{stack.settings['version']}"
    if stack.settings["image"] == "etherpad/etherpad":
        raise StackctlError(
            "the image setting still names the stock etherpad/etherpad",
            f'set stacks.{stack.name}.image to your own name first, e.g. image = "local/etherpad"',
        )
    from rich.markup import escape

    from stackctl import console

    console.info(f"building {escape(tag)} from {escape(source)} with {escape(' '.join(plugins))}")
    code = engine.build(source, tag, {"ETHERPAD_PLUGINS": " ".join(plugins)})
    if code:
        return ActionResult(f"docker build failed with exit code {code}", code)
    return ActionResult(
        f"built {tag}; deploy to use it (a plugins volume from an older image keeps its "
        "plugins: see docs/recipes/etherpad.md)"
    )
