#!/usr/bin/env bash
# Install stackctl on a Debian/Ubuntu server, with a Docker engine and compose v2 when
# missing, then run stackctl with the given arguments (if any):
#
#   sudo bash scripts/install.sh deploy ente
#
# A deploy on a server with no settings file yet writes the commented starter file
# (/etc/stackctl/stackctl.toml, or $STACKCTL_CONFIG) and stops there: fill in the domain and
# the proxy, then run the same command again.
#
# stackctl goes into its own virtualenv (/opt/stackctl) from this checkout, as a
# regular (not editable) install, and is linked as /usr/local/bin/stackctl.
#
# Environment:
#   STACKCTL_PREFIX   where the virtualenv goes (default /opt/stackctl)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PREFIX="${STACKCTL_PREFIX:-/opt/stackctl}"
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run it as root (sudo bash scripts/install.sh ...)" >&2
    exit 1
fi

if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    apt-get -q update
    apt-get -y -q install --no-install-recommends python3-venv
fi

bash scripts/lib/engine.sh

python3 -m venv "$PREFIX"
"$PREFIX/bin/python" -m pip install -q --upgrade pip
"$PREFIX/bin/python" -m pip install -q .
# the same version number would otherwise keep an older copy of stackctl itself
"$PREFIX/bin/python" -m pip install -q --force-reinstall --no-deps .
ln -sfn "$PREFIX/bin/stackctl" /usr/local/bin/stackctl
echo "stackctl $("$PREFIX/bin/stackctl" --version | cut -d' ' -f2) installed as /usr/local/bin/stackctl" >&2

# A first deploy needs the site's own settings (domain, proxy), not the built-in examples:
# without a settings file, write the starter one and stop so the user can fill it in.
SITE_CONFIG="${STACKCTL_CONFIG:-/etc/stackctl/stackctl.toml}"
if [ "${1:-}" = deploy ] && [ ! -e "$SITE_CONFIG" ] && [ ! -e ./stackctl.toml ]; then
    /usr/local/bin/stackctl init "$SITE_CONFIG"
    echo "install.sh: set your domain and proxy in $SITE_CONFIG, then run the same command again" >&2
    exit 0
fi

if [ $# -gt 0 ]; then
    exec /usr/local/bin/stackctl "$@"
fi
