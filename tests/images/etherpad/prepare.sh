#!/usr/bin/env bash
# Build context of stackctl-test/etherpad: real Etherpad 2.5.3 built from the
# unmodified upstream snapshot, as the upstream Dockerfile's production stage
# does (full install, admin and OIDC UI bundles, then production deps only).
#
#   prepare.sh --inputs   what the image is built from (for build.sh's hash)
#   prepare.sh CTX        fill CTX/app and CTX/node
set -euo pipefail
# shellcheck source=../upstream.sh
. "$(dirname "${BASH_SOURCE[0]}")/../upstream.sh"

SNAPSHOT=etherpad-2.5.3-b827f5b.tar.gz

if [ "${1:-}" = --inputs ]; then
    inputs_of "$SNAPSHOT"
    exit 0
fi
ctx="${1:?usage: prepare.sh --inputs | CTX}"
app="$ctx/app"

use_node
unpack_snapshot "$SNAPSHOT" "$app"
cd "$app"
up_log "etherpad: pnpm install (store: $npm_config_store_dir)"
pnpm install --frozen-lockfile --store-dir "$npm_config_store_dir" >"$ctx/.install.log" 2>&1 || {
    tail -n 30 "$ctx/.install.log" >&2
    up_die "etherpad: pnpm install failed"
}
up_log "etherpad: building the admin and OIDC bundles"
pnpm run build:etherpad >"$ctx/.build.log" 2>&1 || {
    tail -n 30 "$ctx/.build.log" >&2
    up_die "etherpad: pnpm run build:etherpad failed"
}
# Drop dev dependencies (build tools) from node_modules, as the production
# stage's `installDeps.sh` does.
pnpm prune --prod >"$ctx/.prune.log" 2>&1 || {
    tail -n 30 "$ctx/.prune.log" >&2
    up_die "etherpad: pnpm prune --prod failed"
}
rm -f "$ctx"/.install.log "$ctx"/.build.log "$ctx"/.prune.log
# Sources the running server never reads (the bundles are in src/ now); the
# upstream image leaves them out too.
rm -rf admin ui doc tests .github
# The official image's configuration: every setting read from the environment.
cp settings.json.docker settings.json
mkdir -p var src/plugin_packages
rm -f var/minified*
copy_node_into "$ctx"
