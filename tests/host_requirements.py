"""What the real-proxy and image tests need on the host, and the Debian package that ships it.

One table, read three ways: scripts/test.sh installs `packages`, then runs `check` before
anything else; the test session checks again when --proxies is given. A missing server
module thus stops the run up front with the package to install, not deep inside a test.
Standard library only: scripts/test.sh runs it with the system python3, before the venv.

    python3 tests/host_requirements.py packages [GROUP...]   # every package, one a line
    python3 tests/host_requirements.py missing [GROUP...]    # the packages whose files are absent
    python3 tests/host_requirements.py check [GROUP...]      # exit 1 naming what is missing

A package counts as there when its files are, whoever installed them (npm from a NodeSource
nodejs, say): asking apt for it again could only conflict.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

NGINX_STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
APACHE_MODULE_DIR = "/usr/lib/apache2/modules"
# What the apache test server loads (tests/proxy_real/harness.py), i.e. what the rendered
# apache snippets use plus the server's own basics.
APACHE_MODULES = (
    "mpm_event",
    "authz_core",
    "mime",
    "alias",
    "proxy",
    "proxy_http",
    "proxy_wstunnel",
    "headers",
    "ssl",
    "rewrite",
    "remoteip",
    "socache_shmcb",
)


@dataclass(frozen=True)
class Need:
    path: str
    package: str
    group: str  # "proxies": --proxies tests; "images": tests/images/build.sh; "archives": backup
    why: str


NEEDS: tuple[Need, ...] = (
    Need("/usr/sbin/nginx", "nginx", "proxies", "the nginx and nginx-stream dialects"),
    Need("/etc/nginx/mime.types", "nginx-common", "proxies", "nginx test server config"),
    Need(NGINX_STREAM_MODULE, "libnginx-mod-stream", "proxies", "nginx-stream: TLS passthrough"),
    Need("/usr/sbin/apache2", "apache2-bin", "proxies", "the apache dialect"),
    *(
        Need(f"{APACHE_MODULE_DIR}/mod_{m}.so", "apache2-bin", "proxies", f"apache {m}_module")
        for m in APACHE_MODULES
    ),
    Need("/etc/mime.types", "media-types", "proxies", "apache test server config"),
    Need("/usr/bin/caddy", "caddy", "proxies", "the caddy dialect"),
    Need("/usr/sbin/haproxy", "haproxy", "proxies", "the haproxy dialect"),
    Need("/usr/sbin/debootstrap", "debootstrap", "images", "the base test image"),
    Need("/usr/bin/age", "age", "archives", "opening a backup archive without stackctl"),
    Need("/usr/bin/zstd", "zstd", "archives", "opening a backup archive without stackctl"),
    Need("/usr/bin/npm", "npm", "images", "fetches Node and pnpm for the Etherpad and WBO builds"),
    Need(
        "/etc/ssl/certs/ca-certificates.crt",
        "ca-certificates",
        "images",
        "pip inside the MinIO stand-in build",
    ),
)
GROUPS = ("proxies", "images", "archives")


def packages(groups: tuple[str, ...] = GROUPS) -> list[str]:
    return sorted({n.package for n in NEEDS if n.group in groups})


def missing(groups: tuple[str, ...] = GROUPS) -> list[Need]:
    return [n for n in NEEDS if n.group in groups and not Path(n.path).exists()]


def report(needs: list[Need]) -> str:
    """One line per missing package, naming the files and what needs them."""
    lines = []
    for package in sorted({n.package for n in needs}):
        of = [n for n in needs if n.package == package]
        what = "; ".join(f"{n.path} ({n.why})" for n in of)
        lines.append(f"missing package {package}: {what}")
    names = " ".join(sorted({n.package for n in needs}))
    lines.append(f"install with: apt-get install --no-install-recommends {names}")
    lines.append("(bash scripts/test.sh installs every package the tests use)")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("packages", "missing", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    groups = tuple(argv[1:]) or GROUPS
    unknown = set(groups) - set(GROUPS)
    if unknown:
        print(f"unknown group(s) {sorted(unknown)}; known: {', '.join(GROUPS)}", file=sys.stderr)
        return 2
    if argv[0] == "packages":
        print("\n".join(packages(groups)))
        return 0
    absent = missing(groups)
    if argv[0] == "missing":
        for package in sorted({n.package for n in absent}):
            print(package)
        return 0
    if absent:
        print(report(absent), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
