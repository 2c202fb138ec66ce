"""Site settings: stackctl.toml, where it is found, and what every key may hold."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackctl.errors import SettingsError
from stackctl.names import PREFIX_PATTERN, StackNames, stack_names
from stackctl.textfile import read_toml
from stackctl.values import Field, ValueProblem

SYSTEM_CONFIG = Path("/etc/stackctl/stackctl.toml")
PROXY_DIALECTS = ("apache", "nginx", "nginx-stream", "caddy", "haproxy", "traefik", "iis")
CERT_LAYOUTS = ("letsencrypt", "dehydrated", "custom")

# The seeds' conventions are the defaults: a stackctl.toml is optional.
SITE_FIELDS = (
    Field("domain", "hostname", "example.lan", "Domain the stack hostnames are derived from"),
    Field("data_root", "path", "/opt/dockerfiles", "Persistent data lives in <data_root>/<stack>"),
    Field(
        "stacks_root", "path", "/usr/local", "Compose files live in <stacks_root>/docker-<stack>"
    ),
    Field("proxy", "text", "apache", "Reverse proxy the snippets are written for", PROXY_DIALECTS),
    Field(
        "subnet_pool", "cidrs", ["172.21.0.0/16"], "Private ranges stack networks are carved from"
    ),
    Field("subnet_prefix", "int", 24, "Size of each stack network (prefix length, 16-28)"),
    Field(
        "proxy_root",
        "path",
        "/",
        "deploy installs proxy files under this folder (where the server's config folder exists)",
    ),
    Field(
        "lock_timeout",
        "int",
        600,
        "Seconds a command waits while another one changes the same stack, then gives up",
    ),
    Field(
        "recipe_paths",
        "paths",
        [],
        "Folders holding your own recipes (one folder per recipe), used like the shipped ones",
    ),
    Field(
        "name_prefix",
        "text",
        "",
        "Put in front of every compose project, container and network name (e.g. for a second installation on one engine)",
    ),
)
TLS_FIELDS = (
    Field("layout", "text", "letsencrypt", "Where certificates live", CERT_LAYOUTS),
    Field(
        "certificate",
        "text",
        "",
        "custom layout: certificate path, {host} is replaced",
        optional=True,
    ),
    Field(
        "certificate_key", "text", "", "custom layout: key path, {host} is replaced", optional=True
    ),
    Field("acme_webroot", "path", "/var/www/acme", "Folder served at /.well-known/acme-challenge/"),
)
MAIL_FIELDS = (
    Field(
        "relay_host",
        "host",
        None,
        "Host MTA the apps send mail through (empty: no mail)",
        optional=True,
    ),
    Field("relay_port", "port", 587, "Port of the mail relay"),
    Field("from_address", "email", None, "Sender address for app mail", optional=True),
    Field(
        "username", "text", None, "SMTP user, when the relay wants authentication", optional=True
    ),
    Field(
        "password_file",
        "path",
        None,
        "File holding the SMTP password (kept out of stackctl.toml)",
        optional=True,
    ),
    Field(
        "security",
        "text",
        "starttls",
        "Transport security towards the relay",
        ("starttls", "tls", "none"),
    ),
)
SSO_FIELDS = (
    Field(
        "enabled", "bool", False, "Offer single sign-on through the site's OpenID Connect provider"
    ),
    Field(
        "issuer",
        "text",
        None,
        "Issuer URL, e.g. https://sso.example.lan/realms/home",
        optional=True,
    ),
    Field("display_name", "text", "Keycloak", "Name shown on login buttons"),
)
COMMON_STACK_FIELDS = (
    Field(
        "enabled",
        "bool",
        False,
        "This server runs the stack: `deploy --all` and a bare `secrets gen` act on it",
    ),
    Field("subnet", "subnet", None, "Explicit subnet for the stack network", optional=True),
    Field(
        "bind_address",
        "ipv4",
        "127.0.0.1",
        "Host address the stack's ports are published on; another one (a LAN address, 0.0.0.0) only for a proxy on another machine",
    ),
    Field(
        "upstream_host",
        "host",
        None,
        "Host the proxy config sends requests to (default: bind_address, or 127.0.0.1 when that is 0.0.0.0)",
        optional=True,
    ),
)
LOOPBACK = "127.0.0.1"
BACKUP_FIELDS = (
    Field(
        "folder",
        "path",
        "/var/backups/stackctl",
        "Where `stackctl backup` writes its archives (mode 0700)",
    ),
    Field(
        "passphrase_file",
        "path",
        None,
        "File holding the passphrase archives are encrypted with (age scrypt); keep it 0600",
        optional=True,
    ),
    Field(
        "recipients",
        "texts",
        [],
        "age public keys (age1...) archives are encrypted to, instead of a passphrase",
    ),
    Field("keep", "int", 0, "Archives kept in the folder after a backup (0: all)"),
)
TABLES = {"images", "tls", "mail", "sso", "stacks", "backup"}


@dataclass(frozen=True)
class Tls:
    """The site's [tls] table: the certificate layout and files."""

    layout: str = "letsencrypt"
    certificate: str | None = None
    certificate_key: str | None = None
    acme_webroot: str = "/var/www/acme"

    def paths(self, host: str) -> tuple[str, str]:
        if self.layout == "dehydrated":
            return (
                f"/etc/dehydrated/certs/{host}/fullchain.pem",
                f"/etc/dehydrated/certs/{host}/privkey.pem",
            )
        if self.layout == "custom" and self.certificate and self.certificate_key:
            return (
                self.certificate.replace("{host}", host),
                self.certificate_key.replace("{host}", host),
            )
        return (
            f"/etc/letsencrypt/live/{host}/fullchain.pem",
            f"/etc/letsencrypt/live/{host}/privkey.pem",
        )


@dataclass(frozen=True)
class Mail:
    """The site's [mail] table: the relay apps send mail through."""

    relay_host: str | None = None
    relay_port: int = 587
    from_address: str | None = None
    username: str | None = None
    password_file: str | None = None
    security: str = "starttls"


@dataclass(frozen=True)
class Sso:
    """The site's [sso] table: the identity provider apps may log in with."""

    enabled: bool = False
    issuer: str | None = None
    display_name: str = "Keycloak"


@dataclass(frozen=True)
class Backup:
    """The site's [backup] table: where archives go, their keys, how many are kept."""

    folder: str = "/var/backups/stackctl"
    passphrase_file: str | None = None
    recipients: tuple[str, ...] = ()
    keep: int = 0


@dataclass(frozen=True)
class Site:
    """Validated site settings plus where they came from."""

    domain: str = "example.lan"
    data_root: str = "/opt/dockerfiles"
    stacks_root: str = "/usr/local"
    proxy: str = "apache"
    subnet_pool: tuple[str, ...] = ("172.21.0.0/16",)
    subnet_prefix: int = 24
    proxy_root: str = "/"
    lock_timeout: int = 600
    name_prefix: str = ""
    recipe_paths: tuple[str, ...] = ()
    images: Mapping[str, str] = field(default_factory=dict)
    tls: Tls = field(default_factory=Tls)
    mail: Mail = field(default_factory=Mail)
    sso: Sso = field(default_factory=Sso)
    backup: Backup = field(default_factory=Backup)
    stacks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str = "built-in defaults"
    path: Path | None = None

    def stack_dir(self, stack: str) -> Path:
        return Path(self.stacks_root) / f"docker-{stack}"

    def data_dir(self, stack: str) -> Path:
        return Path(self.data_root) / stack

    def names(self, stack: str) -> StackNames:
        """The stack's project, container and network names on this site."""
        return stack_names(stack, self.name_prefix)

    def where(self) -> str:
        return str(self.path) if self.path else self.source

    def enabled_stacks(self) -> list[str]:
        """The stacks this server runs: [stacks.<name>] enabled = true, in file order."""
        return [name for name, table in self.stacks.items() if table.get("enabled") is True]


def find_config(explicit: Path | None) -> tuple[Path | None, str]:
    """--config, then $STACKCTL_CONFIG, then ./stackctl.toml, then /etc/stackctl/stackctl.toml."""
    if explicit is not None:
        if not explicit.is_file():
            raise SettingsError(
                f"settings file {explicit} does not exist", "check the --config path"
            )
        return explicit, "--config"
    env = os.environ.get("STACKCTL_CONFIG")
    if env:
        if not Path(env).is_file():
            raise SettingsError(
                f"settings file {env} (from $STACKCTL_CONFIG) does not exist",
                "unset STACKCTL_CONFIG or fix the path",
            )
        return Path(env), "$STACKCTL_CONFIG"
    for candidate, source in (
        (Path("stackctl.toml"), "./stackctl.toml"),
        (SYSTEM_CONFIG, str(SYSTEM_CONFIG)),
    ):
        if candidate.is_file():
            return candidate, source
    return None, "built-in defaults"


def load_site(explicit: Path | None = None) -> Site:
    path, source = find_config(explicit)
    if path is None:
        return Site()
    raw = read_toml(path, "fix the syntax; `stackctl init` writes a commented example")
    return parse_site(raw, path=path, source=source)


def _check_table(
    raw: Mapping[str, Any],
    fields: tuple[Field, ...],
    where: str,
    file: str,
    tables: set[str] = frozenset(),
) -> dict[str, Any]:
    known = {f.name: f for f in fields}
    for key in raw:
        if key not in known and key not in tables:
            allowed = ", ".join(sorted([*known, *(f"[{t}]" for t in tables)]))
            raise SettingsError(f"unknown key {where}{key} in {file}", f"allowed here: {allowed}")
    values: dict[str, Any] = {}
    for f in fields:
        if f.name not in raw:
            values[f.name] = f.default
            continue
        try:
            values[f.name] = f.check(raw[f.name])
        except ValueProblem as exc:
            raise SettingsError(
                f"{where}{f.name} in {file}: {exc.problem}", f"allowed: {exc.allowed}"
            ) from None
    return values


def parse_site(raw: Mapping[str, Any], path: Path | None = None, source: str = "test") -> Site:
    file = str(path) if path else source
    values = _check_table(raw, SITE_FIELDS, "", file, TABLES)
    if not 16 <= values["subnet_prefix"] <= 28:
        raise SettingsError(
            f"subnet_prefix in {file}: {values['subnet_prefix']} is out of range",
            "allowed: 16 to 28",
        )
    if values["lock_timeout"] < 0:
        raise SettingsError(
            f"lock_timeout in {file}: {values['lock_timeout']} is negative",
            "allowed: 0 (never wait) or more seconds",
        )
    if not PREFIX_PATTERN.match(values["name_prefix"]):
        raise SettingsError(
            f"name_prefix in {file}: {values['name_prefix']!r} cannot start a container name",
            "allowed: up to 30 lower-case letters, digits, '-' and '_', starting with a letter or digit",
        )
    for block in values["subnet_pool"]:
        if int(block.rsplit("/", 1)[1]) > values["subnet_prefix"]:
            raise SettingsError(
                f"subnet_pool in {file}: {block} is smaller than one /{values['subnet_prefix']} stack network",
                "list ranges at least as large as subnet_prefix, e.g. 172.21.0.0/16",
            )
    tls = _check_table(_table(raw, "tls", file), TLS_FIELDS, "tls.", file)
    if tls["layout"] == "custom" and not (tls["certificate"] and tls["certificate_key"]):
        raise SettingsError(
            f"tls.layout = 'custom' in {file} needs tls.certificate and tls.certificate_key",
            'e.g. certificate = "/etc/ssl/{host}/cert.pem"',
        )
    mail = _check_table(_table(raw, "mail", file), MAIL_FIELDS, "mail.", file)
    sso = _check_table(_table(raw, "sso", file), SSO_FIELDS, "sso.", file)
    if sso["enabled"] and not (sso["issuer"] or "").startswith("https://"):
        raise SettingsError(
            f"sso.enabled = true in {file} needs sso.issuer, an https:// URL",
            'e.g. issuer = "https://sso.example.lan/realms/home"',
        )
    backup = _check_table(_table(raw, "backup", file), BACKUP_FIELDS, "backup.", file)
    if backup["passphrase_file"] and backup["recipients"]:
        raise SettingsError(
            f"backup.passphrase_file and backup.recipients in {file}: choose one",
            "an age archive is opened by a passphrase or by identities, not both",
        )
    if backup["keep"] < 0:
        raise SettingsError(f"backup.keep in {file} is negative", "allowed: 0 (keep all) or more")
    images = _table(raw, "images", file)
    from stackctl import values as v

    for upstream, replacement in images.items():
        try:
            v.image(upstream.rstrip("/"))
            v.image(replacement.rstrip("/") if isinstance(replacement, str) else replacement)
        except ValueProblem as exc:
            raise SettingsError(
                f'[images] "{upstream}" in {file}: {exc.problem}', f"allowed: {exc.allowed}"
            ) from None
    stacks = _table(raw, "stacks", file)
    for name, table in stacks.items():
        if not isinstance(table, dict):
            raise SettingsError(
                f"[stacks.{name}] in {file} is not a table",
                f"write it as [stacks.{name}] with keys below",
            )
        if not isinstance(table.get("enabled", False), bool):
            raise SettingsError(
                f"stacks.{name}.enabled in {file}: {table['enabled']!r} is not true or false",
                "allowed: enabled = true or enabled = false",
            )
    return Site(
        domain=values["domain"],
        data_root=values["data_root"],
        stacks_root=values["stacks_root"],
        proxy=values["proxy"],
        subnet_pool=tuple(values["subnet_pool"]),
        subnet_prefix=values["subnet_prefix"],
        proxy_root=values["proxy_root"],
        lock_timeout=values["lock_timeout"],
        name_prefix=values["name_prefix"],
        recipe_paths=tuple(values["recipe_paths"]),
        images=dict(images),
        tls=Tls(**tls),
        mail=Mail(**mail),
        sso=Sso(**sso),
        backup=Backup(**{**backup, "recipients": tuple(backup["recipients"])}),
        stacks={name: dict(table) for name, table in stacks.items()},
        source=source,
        path=path,
    )


def _table(raw: Mapping[str, Any], name: str, file: str) -> dict[str, Any]:
    table = raw.get(name, {})
    if not isinstance(table, dict):
        raise SettingsError(f"{name} in {file} must be a table", f"write it as [{name}]")
    return table


def stack_settings(
    site: Site, stack: str, fields: tuple[Field, ...], known_stacks: list[str]
) -> dict[str, Any]:
    """Validate [stacks.<stack>] against the recipe's fields; fill defaults from the site."""
    for name in site.stacks:
        if name not in known_stacks:
            raise SettingsError(
                f"[stacks.{name}] in {site.where()} names no recipe",
                "recipes: " + ", ".join(known_stacks),
            )
    raw = site.stacks.get(stack, {})
    resolved = [
        Field(
            f.name,
            f.kind,
            _expand(f.default, site),
            f.help,
            f.choices,
            f.optional,
            f.when,
            f.publish,
        )
        for f in (*COMMON_STACK_FIELDS, *fields)
    ]
    checked = _check_table(raw, tuple(resolved), f"stacks.{stack}.", site.where())
    if not checked.get("upstream_host"):  # the proxy reaches the ports where they are published
        checked["upstream_host"] = local_address(checked)
    return checked


def local_address(settings: Mapping[str, Any]) -> str:
    """Where this host itself reaches the stack's published ports (probes, API calls)."""
    bound = settings.get("bind_address") or LOOPBACK
    return LOOPBACK if bound == "0.0.0.0" else bound


def exposure_warning(stack: str, settings: Mapping[str, Any]) -> str | None:
    """A sentence when a stack's ports are reachable from other machines (asked for, but risky)."""
    bound = settings.get("bind_address", LOOPBACK)
    if bound.startswith("127."):
        return None
    return (
        f"stacks.{stack}.bind_address = {bound}: its ports are reachable from other machines "
        "without TLS; allow only the proxy's address to them (firewall)"
    )


def _expand(default: Any, site: Site) -> Any:
    if isinstance(default, str):
        return default.replace("{domain}", site.domain)
    if isinstance(default, list):  # e.g. a list of origins under the site's domain
        return [_expand(item, site) for item in default]
    return default


def resolve_image(ref: str, overrides: Mapping[str, str]) -> str:
    """Apply the [images] map: exact reference, then repository, then registry prefix."""
    if ref in overrides:
        return overrides[ref]
    repo, sep, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "")
    if repo in overrides:
        target = overrides[repo]
        has_tag = ":" in target.rsplit("/", 1)[-1]
        return target if has_tag or not sep else f"{target}:{tag}"
    for prefix, target in overrides.items():
        if prefix.endswith("/") and ref.startswith(prefix):
            return target.rstrip("/") + "/" + ref[len(prefix) :]
    return ref
