#!/usr/bin/env bash
# Set up everything the tests need on a fresh Debian/Ubuntu machine and run
# the whole suite:
#
#   1. OS packages: python3-venv, then every package in the table of
#      tests/host_requirements.py: the reverse proxies the tests drive (nginx
#      with its stream module from libnginx-mod-stream, apache2-bin with the
#      modules the tests load, caddy, haproxy) as binaries only, their services
#      neither started nor enabled; debootstrap and npm for the test images;
#      age and zstd to open backup archives as a user would. A package is installed when
#      one of its files in that table is absent; then the table is checked: a
#      file still missing stops the run here, naming its package.
#   2. A Docker engine with compose v2 (scripts/lib/engine.sh); a running
#      dockerd is reused.
#   3. The local test images (tests/images/build.sh; existing ones are kept)
#      and their smoke test (tests/images/smoke.sh).
#   4. A virtualenv in .venv with the project installed (not editable) with
#      its `test` extra.
#   5. ruff check, ruff format --check, then pytest with every marker and the
#      engine and proxy tests enabled. Extra arguments go to pytest.
#
# Environment:
#   STACKCTL_SKIP_SMOKE=1   skip tests/images/smoke.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"

export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a

step() { printf '\n==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    else
        sudo -E "$@"
    fi
}

apt_install() {
    as_root apt-get -y -q -o Dpkg::Options::=--force-confdef \
        -o Dpkg::Options::=--force-confold install --no-install-recommends "$@"
}

# ------------------------------------------------------------- OS packages

step "OS packages"
APT_UPDATED=""
apt_update_once() {
    if [ -z "$APT_UPDATED" ]; then
        as_root apt-get -q update
        APT_UPDATED=1
    fi
}

# python3 first: the package table below is read with it.
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    echo "installing: python3-venv" >&2
    apt_update_once
    apt_install python3-venv
fi
REQUIREMENTS="$ROOT/tests/host_requirements.py"
mapfile -t missing < <(python3 "$REQUIREMENTS" missing)

if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    # Keep package scripts from starting services (no-op where one exists).
    policy=/usr/sbin/policy-rc.d
    added_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
        as_root chmod 755 "$policy"
        added_policy=1
    fi
    apt_update_once
    apt_install "${missing[@]}"
    if [ -n "$added_policy" ]; then
        as_root rm -f "$policy"
    fi
    # Under systemd, make sure none of them runs or starts at boot.
    if [ -d /run/systemd/system ]; then
        for svc in nginx apache2 caddy haproxy; do
            as_root systemctl disable --now "$svc" >/dev/null 2>&1 || true
        done
    fi
else
    echo "all present" >&2
fi
# A package can be installed yet lack a file (a module deleted, a path moved): say which.
python3 "$REQUIREMENTS" check

# ------------------------------------------------------------ docker engine

step "Docker engine"
bash "$ROOT/scripts/lib/engine.sh"

# ------------------------------------------------------------- test images

step "Test images"
bash "$ROOT/tests/images/build.sh"
if [ "${STACKCTL_SKIP_SMOKE:-}" != 1 ]; then
    step "Test images: smoke test"
    bash "$ROOT/tests/images/smoke.sh"
fi

# -------------------------------------------------------------- virtualenv

step "Virtualenv .venv"
if [ -x .venv/bin/python ] && .venv/bin/python -c 'import sys' >/dev/null 2>&1; then
    python3 -m venv .venv
else
    python3 -m venv --clear .venv
fi
.venv/bin/python -m pip install -q '.[test]'
# The same version number would otherwise keep a stale copy of the package.
.venv/bin/python -m pip install -q --no-deps --force-reinstall .

# ------------------------------------------------------------------- tests

step "ruff check"
.venv/bin/ruff check .
step "ruff format --check"
.venv/bin/ruff format --check .

step "pytest"
set +e
.venv/bin/pytest -m "" --engine --proxies "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests" >&2
    status=0
fi
exit "$status"
