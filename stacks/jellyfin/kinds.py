"""Jellyfin without its web wizard: first run, API key, libraries, network, SSO plugin.

Everything goes through Jellyfin's HTTP API on the loopback port. Every call carries
`Authorization: MediaBrowser Client=..., Device=..., DeviceId=..., Version=...[, Token=...]`:
the only form 12.0 still accepts once legacy authorization is off (no X-Emby-Token, no
X-Emby-Authorization, no api_key query parameter).

Jellyfin answers /health with "Degraded" (HTTP 200) while it starts, and its temporary
startup server claims the wizard is not done whatever the truth is; every step therefore
waits for the body "Healthy" before it believes anything.
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stackctl import __version__
from stackctl import secrets as secret_store
from stackctl.errors import StackctlError
from stackctl.settings import local_address
from stackctl.steps import ActionResult, action_kind, container_name, step_kind
from stackctl.values import ValueProblem, path, value_kind
from stackctl.wait import poll

if TYPE_CHECKING:
    from stackctl.engine import Engine
    from stackctl.recipe import Action, Step
    from stackctl.stack import Stack
    from stackctl.steps import StepContext

SERVICE = "server"
JELLYFIN_PORT = 8096  # inside the container, and on the host in host network mode
ADMIN_PASSWORD = "JELLYFIN_ADMIN_PASSWORD"
API_KEY = "JELLYFIN_API_KEY"
SSO_SECRET = "JELLYFIN_SSO_CLIENT_SECRET"
# 9p4/jellyfin-plugin-sso: its manifest, package name and assembly GUID
SSO_REPOSITORY = (
    "Jellyfin SSO",
    "https://raw.githubusercontent.com/9p4/jellyfin-plugin-sso/manifest-release/manifest.json",
)
SSO_PACKAGE = "SSO Authentication"
SSO_GUID = "505ce9d1-d916-42fa-86ca-673ef241d7df"
WAIT_SECONDS = 300
BASE_FACT = "jellyfin_base_url"  # the base URL last applied, to find Jellyfin after it changes


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass(frozen=True)
class JellyfinApi:
    """Jellyfin's API at `address` + `base`, as client "stackctl", optionally with a token."""

    address: str  # http://127.0.0.1:8096
    base: str  # "" or "/jellyfin"
    device_id: str
    token: str = field(default="", repr=False)
    timeout: float = 30

    def with_token(self, token: str) -> JellyfinApi:
        return JellyfinApi(self.address, self.base, self.device_id, token, self.timeout)

    def authorization(self) -> str:
        parts = [
            'Client="stackctl"',
            'Device="stackctl"',
            f'DeviceId="{self.device_id}"',
            f'Version="{__version__}"',
        ]
        if self.token:
            parts.insert(0, f'Token="{self.token}"')
        return "MediaBrowser " + ", ".join(parts)

    def raw(
        self, method: str, path: str, query: Mapping[str, str] | None = None, body: Any = None
    ) -> Reply:
        """One call; HTTP errors come back as a Reply, unreachable servers raise OSError."""
        import urllib.error
        import urllib.parse
        import urllib.request

        url = self.address + self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", self.authorization())
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return Reply(response.status, response.read())
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, exc.read() or b"")

    def call(
        self, method: str, path: str, query: Mapping[str, str] | None = None, body: Any = None
    ) -> Reply:
        """A call that must succeed."""
        try:
            reply = self.raw(method, path, query, body)
        except OSError as exc:
            raise StackctlError(
                f"Jellyfin did not answer {method} {self.base}{path}: {exc}",
                "check the container with `stackctl logs jellyfin server`",
            ) from exc
        if reply.status >= 300:
            raise StackctlError(
                f"Jellyfin answered {method} {self.base}{path} with {reply.status}: {reply.text.strip()[:300]}",
                "see `stackctl logs jellyfin server`",
            )
        return reply


# -- reaching Jellyfin ---------------------------------------------------------------------


def host_port(settings: Mapping[str, Any]) -> int:
    return JELLYFIN_PORT if settings["network_mode"] == "host" else int(settings["http_port"])


def wanted_base(settings: Mapping[str, Any]) -> str:
    return normal_base(settings.get("base_url"))


def normal_base(value: Any) -> str:
    """Jellyfin's BaseUrl form: "" or "/prefix" without a trailing slash."""
    text = str(value or "").strip().strip("/")
    return "/" + text if text else ""


def wait_healthy(api: JellyfinApi, bases: list[str], seconds: float = WAIT_SECONDS) -> str:
    """Wait until /health (under one of `bases`) says "Healthy"; return that base."""

    def attempt() -> tuple[str | None, str]:
        last = ""
        for base in bases:
            try:
                reply = JellyfinApi(api.address, base, api.device_id, timeout=5).raw(
                    "GET", "/health"
                )
            except OSError as exc:
                last = f"{api.address}: {getattr(exc, 'reason', exc)}"
                continue
            answer = reply.text.strip()
            if reply.status == 200 and answer == "Healthy":
                return base, ""
            if reply.status != 404:
                last = f"{base}/health answered {reply.status} {answer[:60]!r}"
        return None, last

    return poll(
        attempt,
        seconds,
        lambda last: StackctlError(
            f"Jellyfin was not Healthy after {seconds:.0f}s ({last})",
            "a database migration can take long: follow `stackctl logs jellyfin server -f` "
            "and deploy again when it is done",
        ),
    )


def connect(ctx: StepContext, token: str = "") -> JellyfinApi:
    """Wait for Jellyfin to be Healthy, wherever its base URL currently is."""
    settings = ctx.stack.settings
    api = JellyfinApi(
        f"http://{local_address(settings)}:{host_port(settings)}",
        "",
        f"stackctl-{ctx.stack.name}",
        token,
    )
    bases = list(
        dict.fromkeys([wanted_base(settings), ctx.stack.state.facts.get(BASE_FACT, ""), ""])
    )
    base = wait_healthy(api, bases)
    return JellyfinApi(api.address, base, api.device_id, token)


def admin_api(ctx: StepContext) -> JellyfinApi:
    key = ctx.stack.secrets().get(API_KEY)
    if not key:
        raise StackctlError(
            f"{API_KEY} is not in the stack's .env yet",
            "the first-run step stores it: run `stackctl deploy jellyfin` again",
        )
    return connect(ctx, key)


def restart(ctx: StepContext, why: str) -> JellyfinApi:
    """Restart the container (settings that apply at start), then wait until it is healthy."""
    from stackctl import console

    container = container_name(ctx.stack, SERVICE)
    console.step(f"restarting {container}: {why}")
    ctx.engine.restart(container)
    api = admin_api(ctx)
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:  # let the engine's own health check catch up too
        health = ((ctx.engine.container(container) or {}).get("State") or {}).get("Health")
        if not health or health.get("Status") == "healthy":
            break
        time.sleep(1)
    return api


# -- first run -----------------------------------------------------------------------------


def _login(api: JellyfinApi, ctx: StepContext) -> JellyfinApi:
    settings = ctx.stack.settings
    reply = api.raw(
        "POST",
        "/Users/AuthenticateByName",
        body={"Username": settings["admin_user"], "Pw": ctx.stack.secrets()[ADMIN_PASSWORD]},
    )
    if reply.status != 200:
        raise StackctlError(
            f"Jellyfin refused {settings['admin_user']} with {ADMIN_PASSWORD} ({reply.status})",
            "if the password was changed in the dashboard, create an API key there "
            f"(Dashboard → API Keys) and store it: `stackctl secrets set jellyfin {API_KEY}`",
        )
    return api.with_token(reply.json()["AccessToken"])


def run_wizard(api: JellyfinApi, ctx: StepContext) -> None:
    """The web wizard's calls, in its order: language, first admin, remote access, done."""
    settings = ctx.stack.settings
    current = api.call("GET", "/Startup/Configuration").json() or {}
    api.call(
        "POST",
        "/Startup/Configuration",
        body={
            **current,
            "ServerName": settings["server_name"],
            "UICulture": settings["ui_culture"],
            "MetadataCountryCode": settings["metadata_country"],
            "PreferredMetadataLanguage": settings["metadata_language"],
        },
    )
    api.call("GET", "/Startup/User")  # creates the first user when there is none
    reply = api.raw(
        "POST",
        "/Startup/User",
        body={"Name": settings["admin_user"], "Password": ctx.stack.secrets()[ADMIN_PASSWORD]},
    )
    # 12.0 refuses a second password for the first user: an interrupted earlier run set
    # it already, and logging in afterwards tells whether it was ours.
    if reply.status >= 300 and reply.status != 403:
        raise StackctlError(
            f"Jellyfin refused the first administrator ({reply.status}): {reply.text[:300]}"
        )
    api.call(
        "POST",
        "/Startup/RemoteAccess",
        body={"EnableRemoteAccess": True, "EnableAutomaticPortMapping": False},
    )
    api.call("POST", "/Startup/Complete")


def ensure_api_key(api: JellyfinApi, ctx: StepContext) -> str:
    """Keep a working API key named `api_key_name` in .env; say what was done ("" if nothing)."""
    stored = ctx.stack.secrets().get(API_KEY)
    if stored:
        reply = api.with_token(stored).raw("GET", "/Auth/Keys")
        if reply.status == 200:
            return ""
        if reply.status not in (401, 403):
            raise StackctlError(f"Jellyfin answered GET /Auth/Keys with {reply.status}")
    app = ctx.stack.settings["api_key_name"]
    session = _login(api, ctx)

    def mine() -> list[dict[str, Any]]:
        items = (session.call("GET", "/Auth/Keys").json() or {}).get("Items") or []
        return [k for k in items if k.get("AppName") == app]

    keys, outcome = mine(), f"API key {app} stored"
    if not keys:
        session.call("POST", "/Auth/Keys", query={"app": app})
        keys, outcome = mine(), f"API key {app} created and stored"
    if not keys:
        raise StackctlError(f"Jellyfin lists no API key named {app} after creating it")
    secret_store.set_value(ctx.stack.recipe, ctx.stack.dir, API_KEY, keys[-1]["AccessToken"])
    return outcome


@step_kind("jellyfin-first-run")
def first_run(step: Step, ctx: StepContext) -> tuple[bool, str]:
    from stackctl import console

    api = connect(ctx)
    info = api.call("GET", "/System/Info/Public").json() or {}
    done = []
    if not info.get("StartupWizardCompleted"):
        if ctx.stack.settings["network_mode"] == "host":
            console.warn(
                "Jellyfin is on the host network: until this step completes its wizard, anyone "
                f"who reaches port {JELLYFIN_PORT} can claim the administrator account"
            )
        run_wizard(api, ctx)
        done.append(f"wizard completed with administrator {ctx.stack.settings['admin_user']}")
    stored = ensure_api_key(api, ctx)
    if stored:
        done.append(stored)
    return bool(done), "; ".join(done) or "wizard done earlier; API key works"


# -- libraries -----------------------------------------------------------------------------


@step_kind("jellyfin-libraries")
def libraries(step: Step, ctx: StepContext) -> tuple[bool, str]:
    from stackctl import console

    wanted = ctx.stack.settings["libraries"]
    if not wanted:
        return False, "no libraries in the settings"
    api = admin_api(ctx)
    existing = {
        str(folder.get("Name", "")).lower(): folder
        for folder in api.call("GET", "/Library/VirtualFolders").json() or []
    }
    added, other = [], []
    for library in wanted:
        found = existing.get(library["name"].lower())
        if found is None:
            api.call(
                "POST",
                "/Library/VirtualFolders",
                query={
                    "name": library["name"],
                    "collectionType": library["type"],
                    "paths": ",".join(library["mounts"]),
                    "refreshLibrary": "true",
                },
                body={},
            )
            added.append(library["name"])
        elif sorted(found.get("Locations") or []) != sorted(library["mounts"]):
            other.append(library["name"])
    for name in other:
        console.warn(
            f"Jellyfin library {name} exists with other folders; stackctl leaves it as it is"
        )
    parts = [f"added {', '.join(added)}"] if added else []
    if other:
        parts.append(f"left as they are: {', '.join(other)}")
    return bool(added), "; ".join(parts) or f"all {len(wanted)} present"


# -- network: known proxies and base URL ---------------------------------------------------


def known_proxies(ctx: StepContext) -> list[str]:
    """Where the host's proxy connects from: the stack network's gateway (published port),
    or loopback on the host network; then the extra addresses from the settings."""
    settings = ctx.stack.settings
    found = ["127.0.0.1"] if settings["network_mode"] == "host" else [ctx.network.gateway]
    for item in settings["known_proxies"]:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise StackctlError(
                f"stacks.jellyfin.known_proxies: {item!r} is not an address or subnet",
                'e.g. known_proxies = ["192.168.1.10"]',
            ) from None
        found.append(item)
    return list(dict.fromkeys(found))


@step_kind("jellyfin-network")
def network(step: Step, ctx: StepContext) -> tuple[bool, str]:
    api = admin_api(ctx)
    config = api.call("GET", "/System/Configuration/network").json() or {}
    have = list(config.get("KnownProxies") or [])
    missing = [p for p in known_proxies(ctx) if p not in have]
    base = wanted_base(ctx.stack.settings)
    changes = []
    if missing:
        config["KnownProxies"] = have + missing
        changes.append(f"known proxies + {', '.join(missing)}")
    if normal_base(config.get("BaseUrl")) != base:
        config["BaseUrl"] = base
        changes.append(f"base URL {base or '/'}")
    if not changes:
        return (
            False,
            f"known proxies include {', '.join(known_proxies(ctx))}; base URL {base or '/'}",
        )
    api.call("POST", "/System/Configuration/network", body=config)
    ctx.stack.state.facts[BASE_FACT] = base
    ctx.stack.state.save()
    restart(ctx, "network settings apply at start")
    return True, "; ".join(changes) + "; restarted"


# -- single sign-on ------------------------------------------------------------------------


def public_url(settings: Mapping[str, Any]) -> str:
    return f"https://{settings['hostname']}{wanted_base(settings)}"


def provider_config(stack: Stack, secret: str) -> dict[str, Any]:
    """The SSO plugin's OpenID provider entry (field names as in the plugin's README)."""
    settings = stack.settings
    return {
        "oidEndpoint": stack.site.sso.issuer,
        "oidClientId": settings["sso_client_id"],
        "oidSecret": secret,
        "enabled": True,
        "enableAuthorization": True,
        "enableAllFolders": True,
        "roles": list(settings["sso_roles"]),
        "adminRoles": list(settings["sso_admin_roles"]),
        "roleClaim": settings["sso_role_claim"],
        "defaultUsernameClaim": "preferred_username",
        # behind the TLS proxy the plugin would otherwise build http:// redirect URIs
        "schemeOverride": "https",
    }


def _same(current: Mapping[str, Any] | None, wanted: Mapping[str, Any]) -> bool:
    """Does the provider Jellyfin reports match? Keys compare without case (Jellyfin answers
    in PascalCase); a field the installed plugin version does not report cannot differ."""
    if not isinstance(current, Mapping) or not current:
        return False
    lowered = {str(k).lower(): v for k, v in current.items()}
    return all(lowered[k.lower()] == v for k, v in wanted.items() if k.lower() in lowered)


def _plugin(api: JellyfinApi) -> dict[str, Any] | None:
    for plugin in api.call("GET", "/Plugins").json() or []:
        if str(plugin.get("Id", "")).replace("-", "").lower() == SSO_GUID.replace("-", ""):
            return plugin
    return None


def login_button(settings: Mapping[str, Any]) -> str:
    start = f"{public_url(settings)}/sso/OID/start/{settings['sso_provider']}"
    return (
        f'<form action="{start}"><button class="raised block emby-button button-submit">'
        "Sign in with single sign-on</button></form>"
    )


def keycloak_client(stack: Stack) -> list[tuple[str, str]]:
    """What the Keycloak admin must create for the plugin, as (field, value) rows."""
    s = stack.settings
    url = public_url(s)
    return [
        ("Realm (issuer)", stack.site.sso.issuer or "(set [sso] issuer in stackctl.toml)"),
        ("Client type", "OpenID Connect"),
        ("Client ID", s["sso_client_id"]),
        ("Client authentication", "On (confidential), Standard flow enabled"),
        ("Valid redirect URIs", f"{url}/sso/OID/redirect/{s['sso_provider']}"),
        ("Root URL", f"{url}/"),
        ("Web origins", url),
        ("Realm roles", ", ".join([*s["sso_roles"], *s["sso_admin_roles"]])),
        (
            "Client scopes → dedicated → mapper",
            f"Realm Roles, token claim name {s['sso_role_claim']}, multivalued, "
            "in ID token, access token and userinfo",
        ),
        ("Then", f"copy Credentials → Client secret: `stackctl secrets set jellyfin {SSO_SECRET}`"),
    ]


@step_kind("jellyfin-sso")
def sso(step: Step, ctx: StepContext) -> tuple[bool, str]:
    import urllib.error
    import urllib.parse
    import urllib.request

    from stackctl import console

    stack = ctx.stack
    if not stack.site.sso.enabled:
        return False, "single sign-on is off ([sso] enabled = false)"
    secret = stack.secrets().get(SSO_SECRET)
    if not secret:
        rows = "\n".join(f"  {name:<36} {value}" for name, value in keycloak_client(stack))
        console.warn(
            "single sign-on waits for the Keycloak client's secret. Create this client in "
            f"Keycloak, then deploy again:\n{rows}"
        )
        return False, f"waiting for {SSO_SECRET}"
    settings = stack.settings
    api = admin_api(ctx)
    done = []

    repositories = api.call("GET", "/Repositories").json() or []
    if SSO_REPOSITORY[1] not in [r.get("Url") for r in repositories]:
        # the list is replaced as a whole: keep every repository already there
        repositories.append({"Name": SSO_REPOSITORY[0], "Url": SSO_REPOSITORY[1], "Enabled": True})
        api.call("POST", "/Repositories", body=repositories)
        done.append("plugin repository added")

    plugin = _plugin(api)
    if plugin is None:
        api.call(
            "POST",
            f"/Packages/Installed/{urllib.parse.quote(SSO_PACKAGE)}",
            query={
                "assemblyGuid": SSO_GUID,
                "version": settings["sso_plugin_version"],
                "repositoryUrl": SSO_REPOSITORY[1],
            },
        )
        done.append(f"plugin {settings['sso_plugin_version']} installed")
    if plugin is None or plugin.get("Status") == "Restart":
        api = restart(ctx, "a plugin loads at start")
        plugin = _plugin(api)
    if plugin is None or plugin.get("Status") != "Active":
        state = plugin.get("Status") if plugin else "missing"
        raise StackctlError(
            f"the SSO plugin is {state} after the restart",
            "see Dashboard → Plugins and `stackctl logs jellyfin server`; version "
            f"{settings['sso_plugin_version']} needs Jellyfin 10.11",
        )

    provider = settings["sso_provider"]
    wanted = provider_config(stack, secret)
    current = (api.call("GET", "/sso/OID/Get").json() or {}).get(provider)
    if not _same(current, wanted):
        api.call("POST", f"/sso/OID/Add/{urllib.parse.quote(provider)}", body=wanted)
        done.append(f"provider {provider} configured")

    branding = api.call("GET", "/System/Configuration/branding").json() or {}
    start = f"/sso/OID/start/{provider}"
    if start not in (branding.get("LoginDisclaimer") or ""):
        text = (branding.get("LoginDisclaimer") or "").rstrip()
        branding["LoginDisclaimer"] = (text + "\n" if text else "") + login_button(settings)
        api.call("POST", "/System/Configuration/branding", body=branding)
        done.append("login button added")
    return bool(done), "; ".join(done) or f"plugin active, provider {provider} as configured"


@action_kind("jellyfin-keycloak-client")
def keycloak_client_action(
    stack: Stack, engine: Engine, action: Action, values: list[Any]
) -> ActionResult:
    from rich.markup import escape

    from stackctl import console

    console.info("Create this client in Keycloak for the Jellyfin SSO plugin:")
    for name, value in keycloak_client(stack):
        console.info(f"  {escape(name):<36} {escape(value)}")
    if not stack.site.sso.enabled:
        console.warn("[sso] is not enabled in stackctl.toml: deploy does not configure the plugin")
    return ActionResult("Keycloak client settings printed")


# -- the media_libraries setting kind ------------------------------------------------------

# Jellyfin's library kinds (the collectionType of /Library/VirtualFolders)
MEDIA_COLLECTION_TYPES = (
    "movies",
    "tvshows",
    "music",
    "musicvideos",
    "homevideos",
    "boxsets",
    "books",
    "mixed",
)
_LIBRARY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._\-]{0,63}$")


@value_kind("media_libraries")
def media_libraries(value: Any) -> list[dict[str, Any]]:
    """Media libraries as tables: {name = "Movies", type = "movies", path = "/data/video"}.

    `paths` (a list) may replace `path`. Each folder gets a read-only mount point
    /media/<name> (then <name>-2, ...) so the compose file and the app agree on it.
    """
    allowed = '[{name = "Movies", type = "movies", path = "/data/video"}]'
    if not isinstance(value, list):
        raise ValueProblem(f"{value!r} is not a list of libraries", allowed)
    libraries: list[dict[str, Any]] = []
    used: set[str] = set()
    for item in value:
        if not isinstance(item, dict) or set(item) - {"name", "type", "path", "paths"}:
            raise ValueProblem(f"{item!r} is not a library table", allowed)
        name = item.get("name")
        if not isinstance(name, str) or not _LIBRARY_NAME.fullmatch(name):
            raise ValueProblem(
                f"library name {name!r} is not allowed",
                "letters, digits, spaces, '.', '_' and '-' (at most 64)",
            )
        if name.lower() in (lib["name"].lower() for lib in libraries):
            raise ValueProblem(f"library {name!r} is listed twice", "one table per library")
        if item.get("type") not in MEDIA_COLLECTION_TYPES:
            raise ValueProblem(
                f"library {name!r} has type {item.get('type')!r}",
                "one of: " + ", ".join(MEDIA_COLLECTION_TYPES),
            )
        raw = item.get("paths", [item["path"]] if "path" in item else [])
        if not isinstance(raw, list) or not raw or ("path" in item and "paths" in item):
            raise ValueProblem(f"library {name!r} needs `path` or a non-empty `paths`", allowed)
        paths = [path(p) for p in raw]
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "library"
        mounts = []
        for _ in paths:
            mount, n = f"/media/{slug}", 1
            while mount in used:
                n += 1
                mount = f"/media/{slug}-{n}"
            used.add(mount)
            mounts.append(mount)
        libraries.append({"name": name, "type": item["type"], "paths": paths, "mounts": mounts})
    return libraries
