"""Reverse-proxy configs for seven servers, rendered from one route model.

`render` is pure: checked vhosts in, {relative file name: text} out. `destinations` says where
each file goes on the host, `needs` what the server must have enabled for it to load.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from stackctl.errors import RecipeError
from stackctl.proxy.model import ProxySite, VirtualHost

if TYPE_CHECKING:
    from stackctl.settings import Site

DIALECTS = ("apache", "nginx", "nginx-stream", "caddy", "haproxy", "traefik", "iis")
# IIS files are written under the stack folder for copying to the Windows host.
IIS_FOLDER = Path("proxy-iis")


def _module(dialect: str) -> ModuleType:
    if dialect not in DIALECTS:
        raise RecipeError(f"unknown proxy dialect {dialect!r}", "dialects: " + ", ".join(DIALECTS))
    name = "nginx" if dialect == "nginx-stream" else dialect
    return importlib.import_module(f"stackctl.proxy.{name}")


def render(
    vhosts: Sequence[VirtualHost], dialect: str, site: ProxySite, stack: str
) -> dict[str, str]:
    from stackctl.proxy.routes import plan

    module = _module(dialect)
    hosts = plan(vhosts, site, stack)
    if dialect.startswith("nginx"):
        return module.render(hosts, site, stack, stream=dialect == "nginx-stream")
    return module.render(hosts, site, stack)


def needs(
    dialect: str, vhosts: Sequence[VirtualHost], stack: str = "STACK", site: ProxySite | None = None
) -> list[str]:
    """Modules, directives and commands the server needs for the rendered files to work."""
    from stackctl.proxy.routes import plan

    module = _module(dialect)
    site = site or ProxySite(certificate=lambda host: (f"/tls/{host}.crt", f"/tls/{host}.key"))
    hosts = plan(vhosts, site, stack)
    if dialect.startswith("nginx"):
        return module.needs(hosts, stack, dialect == "nginx-stream", site)
    return module.needs(hosts, stack, site)


def destinations(dialect: str, stack: str, files: Sequence[str]) -> dict[str, Path]:
    """Where each rendered file goes; IIS paths are relative (to the stack folder)."""
    module = _module(dialect)
    return {name: module.destination(name, stack) for name in files}


def install_path(dialect: str, stack: str) -> Path:
    """Where the server expects the stack's main file."""
    main = {
        "apache": f"apache/stackctl-{stack}.conf",
        "nginx": f"nginx/stackctl-{stack}.conf",
        "nginx-stream": f"nginx-stream/stackctl-{stack}.conf",
        "caddy": f"caddy/stackctl-{stack}.caddy",
        "haproxy": f"haproxy/stackctl-{stack}.cfg",
        "traefik": f"traefik/stackctl-{stack}.yml",
        "iis": "iis/web.config",
    }
    _module(dialect)
    return _module(dialect).destination(main[dialect], stack)


def site_from(settings_site: Site) -> ProxySite:
    """The proxy policy of stackctl.toml: certificate layout and ACME webroot."""
    tls = settings_site.tls
    return ProxySite(certificate=tls.paths, acme_webroot=tls.acme_webroot)
