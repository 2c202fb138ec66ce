"""MAS's own kinds: mas-cli one-offs, the first admin, check-synapse, the Keycloak client.

The MAS image is distroless (no shell, no curl), so every command is a one-off container of
the `mas` service running `mas-cli` (its entry point), and health is asked from the host.

  before up   mas-cli config check     the rendered config.yaml, as MAS reads it
  after up    mas-register-admin       `manage register-user NAME --password ... --admin --yes`
                                       once; the password is shown once and kept for
                                       `stackctl extract mas admin-password`, the user ids
                                       (`User registered user.id=...`) for `extract mas user-ids`
                                       (which adds the `User created` ids of the server's log)
  after up    mas-cli doctor           reported, not fatal

`check-synapse` reads a homeserver.yaml and names every setting Synapse (1.136+, read at
v1.163.2's synapse/config/mas.py) refuses to start with while matrix_authentication_service
is enabled, with the fix.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackctl.errors import StackctlError
from stackctl.schema import optional, required
from stackctl.steps import ActionResult, action_kind, step_kind
from stackctl.steps import kept as kept_values
from stackctl.values import ValueProblem, value_kind

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from stackctl.engine import Engine
    from stackctl.recipe import Action, Step
    from stackctl.stack import Stack
    from stackctl.steps import StepContext

_ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
_USER_ID = re.compile(r"User registered\b.*?\buser\.id=([0-9A-HJKMNP-TV-Z]{26})")
_USERNAME = re.compile(r"^[a-z0-9._=/+-]{1,255}$")


@value_kind("ulid")
def ulid(value: Any) -> str:
    """A ULID: 26 characters of Crockford's base32, as MAS ids are."""
    text = str(value)
    if not _ULID.match(text):
        raise ValueProblem(
            f"{text!r} is not a ULID",
            "26 characters of 0-9 and A-Z without I, L, O and U, the first 0-7",
        )
    return text


# -- mas-cli one-offs -------------------------------------------------------------------------


def mas_cli(stack: Stack, engine: Engine, argv: Sequence[str]) -> tuple[int, str]:
    """Run `mas-cli ARGV` in a one-off container of the `mas` service: exit code and output."""
    from stackctl.logs import strip_ansi

    result = engine.compose_run(stack.dir, stack.names.project, "mas", list(argv), {})
    return result.exit_code, strip_ansi(result.output)


def _tail(output: str, lines: int = 15) -> str:
    return "\n".join(output.strip().splitlines()[-lines:])


@step_kind("mas-cli", {"argv": required(list), "expect": optional(str), "fatal": optional(bool)})
def mas_cli_step(step: Step, ctx: StepContext) -> tuple[bool, str]:
    argv = [str(a) for a in step.options["argv"]]
    code, output = mas_cli(ctx.stack, ctx.engine, argv)
    expect = step.options.get("expect", "")
    good = code == 0 and (not expect or expect in output)
    if good:
        return False, f"mas-cli {' '.join(argv)}: {expect or 'passed'}"
    if step.options.get("fatal", True):
        raise StackctlError(
            f"`mas-cli {' '.join(argv)}` failed (exit code {code}):\n{_tail(output)}",
            "fix what it names (stackctl.toml, then deploy again); "
            f"`stackctl run {ctx.stack.name} mas-cli {' '.join(argv)}` runs it alone",
        )
    return (
        False,
        f"mas-cli {' '.join(argv)} reported problems (exit code {code}); see `stackctl run {ctx.stack.name} {argv[0]}`",
    )


@action_kind("mas-cli", {"argv": optional(list)})
def mas_cli_action(stack: Stack, engine: Engine, action: Action, values: list[Any]) -> ActionResult:
    argv = [*(str(a) for a in action.argv), *(str(v) for v in _flatten(values))]
    code, output = mas_cli(stack, engine, argv)
    print(output, end="" if output.endswith("\n") else "\n")
    return ActionResult(f"mas-cli {' '.join(argv[:2])} exited with {code}", code)


def _flatten(values: Iterable[Any]) -> list[Any]:
    flat: list[Any] = []
    for value in values:
        flat.extend(value if isinstance(value, (list, tuple)) else [value])
    return flat


# -- the first admin --------------------------------------------------------------------------


def user_ids(output: str) -> list[str]:
    """The ids in `User registered user.id=...` lines, in order."""
    return _USER_ID.findall(output)


def _show_once(stack: Stack, username: str, email: str, password: str, name: str) -> None:
    from rich.markup import escape

    from stackctl import console

    console.err.print(
        f"[warn]MAS admin [bold]{escape(username)}[/bold] <{escape(email)}>, "
        f"password (shown once): [bold]{escape(password)}[/bold][/]"
    )
    console.err.print(
        f"  change it after the first login; until then `stackctl extract {stack.name} {name}` "
        f"prints it again, and `stackctl run {stack.name} forget-admin-password` forgets it"
    )


@step_kind(
    "mas-register-admin",
    {
        "username": required(str),
        "email": required(str),
        "keep_as": required(str),
        "keep_ids_as": optional(str),
    },
)
def register_admin(step: Step, ctx: StepContext) -> tuple[bool, str]:
    from stackctl.steps.postgres import options

    opts = options(step, ctx)
    username, email = opts["username"], opts["email"]
    if not _USERNAME.match(username):
        raise StackctlError(
            f"admin_username {username!r} is not a Matrix localpart",
            "lower-case letters, digits and . _ = - / +",
        )
    password = secrets.token_urlsafe(18)
    journal = ctx.stack.state.journal.setdefault(step.id, {})
    if journal.get("creating") == username:
        # an interrupted run made the user but its password was never seen: set a new one
        argv = ["manage", "set-password", username, password]
        verb, done = "set a new password for", "Password changed"
    else:
        journal["creating"] = username
        ctx.stack.state.save()
        argv = ["manage", "register-user", username, "--password", password]
        argv += ["--email", email, "--admin", "--yes"]
        verb, done = "registered", "User registered"
    code, output = mas_cli(ctx.stack, ctx.engine, argv)
    if code != 0 or done not in output:
        shown = _tail(output).replace(password, "********")
        raise StackctlError(
            f"`mas-cli {' '.join(argv[:3])}` failed (exit code {code}):\n{shown}",
            "fix the cause and deploy again; or register a user yourself with "
            f"`stackctl run {ctx.stack.name} register-user`",
        )
    kept_values.keep(ctx.stack, step, password)
    ids = user_ids(output)
    if ids and opts.get("keep_ids_as"):
        kept_values.keep(ctx.stack, step, "\n".join(ids), name=opts["keep_ids_as"])
    _show_once(ctx.stack, username, email, password, opts["keep_as"])
    which = f" (user.id {ids[-1]})" if ids else ""
    return True, f"{verb} admin {username} <{email}>{which}; password shown once"


# -- check-synapse ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    key: str  # where in homeserver.yaml
    problem: str
    fix: str


def _truthy(value: Any) -> bool:
    """As Synapse's strtobool reads enable_registration."""
    if isinstance(value, str):
        return value.strip().lower() in ("y", "yes", "t", "true", "on", "1")
    return bool(value)


def _enabled(section: Any, default: bool = True) -> bool:
    # Synapse reads these `enabled` flags by plain truthiness (a string "false" is on)
    return isinstance(section, dict) and bool(section) and bool(section.get("enabled", default))


def _lifetime(value: Any) -> bool:
    """Synapse refuses a lifetime that parses to anything but 0."""
    return value is not None and str(value).strip() not in ("", "0", "0s", "0ms")


def synapse_refusals(config: Mapping[str, Any]) -> list[Refusal]:
    """Every setting that makes Synapse refuse to start with MAS delegation enabled."""
    found: list[Refusal] = []

    def add(key: str, problem: str, fix: str = "") -> None:
        found.append(Refusal(key, problem, fix or f"remove `{key}`"))

    passwords = config.get("password_config") or {}
    if isinstance(passwords, dict) and passwords.get("enabled") not in (False, None):
        add(
            "password_config.enabled",
            "password login (or only_for_reauth) is enabled; MAS owns passwords",
            "set `password_config: {enabled: false}` or remove `enabled` (off by default with MAS)",
        )
    if _truthy(config.get("enable_registration", False)):
        add("enable_registration", "Synapse's own registration is on; MAS registers users")
    if config.get("user_consent") is not None:
        add("user_consent", "user consent is configured; MAS shows the terms instead")
    if config.get("oidc_providers") or _enabled(config.get("oidc_config"), default=False):
        add(
            "oidc_providers",
            "Synapse's own OpenID Connect login",
            "move the provider to MAS's upstream_oauth2, remove it here",
        )
    saml = config.get("saml2_config")
    if _enabled(saml) and (saml.get("sp_config") or saml.get("config_path")):
        add("saml2_config", "SAML login is configured", "remove `saml2_config` (MAS has no SAML)")
    if _enabled(config.get("cas_config")):
        add("cas_config", "CAS login is configured")
    if _enabled(config.get("jwt_config"), default=False):
        add("jwt_config", "JWT login is configured")
    if config.get("password_providers") or _enabled(config.get("ldap_config"), default=False):
        add("password_providers", "a password auth provider (or ldap_config) is configured")
    if config.get("enable_registration_captcha"):
        add("enable_registration_captcha", "registration CAPTCHA is on; MAS has its own `captcha`")
    if _enabled(config.get("login_via_existing_session"), default=False):
        add("login_via_existing_session.enabled", "login via an existing session is on")
    for key in (
        "refresh_token_lifetime",
        "nonrefreshable_access_token_lifetime",
        "session_lifetime",
    ):
        if _lifetime(config.get(key)):
            add(key, f"{key} is set; MAS decides token and session lifetimes")
    if config.get("enable_3pid_changes"):
        add("enable_3pid_changes", "email/phone changes in Synapse are on; MAS owns emails")
    experimental = config.get("experimental_features") or {}
    if isinstance(experimental, dict) and experimental.get("msc3861"):
        add(
            "experimental_features.msc3861",
            "the experimental MAS integration is left over (Synapse removed it)",
            "remove it: the matrix_authentication_service block replaces it (its admin_token is the secret)",
        )
    block = config.get("matrix_authentication_service") or {}
    if isinstance(block, dict) and block.get("secret") and block.get("secret_path"):
        add(
            "matrix_authentication_service.secret",
            "both secret and secret_path are set",
            "keep secret_path (the file stackctl writes), remove secret",
        )
    return found


def load_homeserver_config(paths: Sequence[str]) -> dict[str, Any]:
    """The files merged as Synapse merges several --config-path files (top-level keys)."""
    import yaml

    merged: dict[str, Any] = {}
    for name in paths:
        path = Path(name)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise StackctlError(f"cannot read {path}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise StackctlError(f"{path} is not YAML: {exc}") from None
        if not isinstance(loaded, dict):
            raise StackctlError(f"{path} is not a Synapse config (no top-level mapping)")
        merged.update(loaded)
    return merged


@action_kind("mas-check-synapse")
def check_synapse(stack: Stack, engine: Engine, action: Action, values: list[Any]) -> ActionResult:
    from rich.markup import escape

    from stackctl import console

    paths = [str(v) for v in _flatten(values)]
    if not paths:
        raise StackctlError(
            "check-synapse needs the homeserver.yaml to check",
            f"stackctl run {stack.name} check-synapse /path/to/homeserver.yaml [more.yaml ...]",
        )
    config = load_homeserver_config(paths)
    refusals = synapse_refusals(config)
    for item in refusals:
        console.err.print(f"[error]✗[/] {escape(item.key)}: {escape(item.problem)}")
        console.err.print(f"    fix: {escape(item.fix)}")
    block = config.get("matrix_authentication_service") or {}
    if not (isinstance(block, dict) and _truthy(block.get("enabled", False))):
        console.warn(
            f"matrix_authentication_service is not enabled here: add {stack.dir}/synapse/mas.yaml"
        )
    if refusals:
        return ActionResult(
            f"Synapse would refuse to start with MAS: {len(refusals)} setting(s) to change", 1
        )
    return ActionResult("nothing here makes Synapse refuse MAS delegation")


# -- Keycloak ---------------------------------------------------------------------------------


def keycloak_client(settings: Mapping[str, Any]) -> dict[str, Any]:
    """MAS as a confidential client of Keycloak, in Keycloak's import form."""
    base = f"https://{settings['auth_hostname']}"
    provider = settings["sso_provider_id"]
    return {
        "clientId": settings["oidc_client_id"],
        "name": "Matrix Authentication Service",
        "protocol": "openid-connect",
        "enabled": True,
        "publicClient": False,
        "clientAuthenticatorType": "client-secret",
        "standardFlowEnabled": True,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False,
        "frontchannelLogout": False,
        "rootUrl": base + "/",
        "redirectUris": [f"{base}/upstream/callback/{provider}"],
        "webOrigins": [base],
        "attributes": {
            "backchannel.logout.url": f"{base}/upstream/backchannel-logout/{provider}",
            "backchannel.logout.session.required": "true",
        },
    }


@action_kind("mas-keycloak-client")
def print_keycloak_client(
    stack: Stack, engine: Engine, action: Action, values: list[Any]
) -> ActionResult:
    from stackctl import console

    console.info(
        "Import this in Keycloak (Clients > Import client), copy the client secret from its "
        f"Credentials tab, then: stackctl secrets set {stack.name} SSO_CLIENT_SECRET"
    )
    console.print_json(keycloak_client(stack.settings))
    redirect = keycloak_client(stack.settings)["redirectUris"][0]
    return ActionResult(f"redirect URI {redirect}")
