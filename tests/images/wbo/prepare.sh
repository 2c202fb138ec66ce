#!/usr/bin/env bash
# Build context of stackctl-test/wbo: real WBO 2.17.0 from the unmodified
# upstream snapshot, with its production dependencies installed the way its
# Dockerfile does (`npm ci --omit=dev --ignore-scripts`).
#
#   prepare.sh --inputs   what the image is built from (for build.sh's hash)
#   prepare.sh CTX        fill CTX/app and CTX/node
set -euo pipefail
# shellcheck source=../upstream.sh
. "$(dirname "${BASH_SOURCE[0]}")/../upstream.sh"

SNAPSHOT=whitebophir-2.17.0-ba5ce08.tar.gz

if [ "${1:-}" = --inputs ]; then
    inputs_of "$SNAPSHOT"
    exit 0
fi
ctx="${1:?usage: prepare.sh --inputs | CTX}"
app="$ctx/app"

use_node
unpack_snapshot "$SNAPSHOT" "$app"
cd "$app"
up_log "wbo: npm ci --omit=dev (cache: $npm_config_cache)"
# The host's npm client, run by Node 24 so engine checks see the right node.
npm ci --omit=dev --ignore-scripts --no-audit --no-fund >"$ctx/.install.log" 2>&1 || {
    tail -n 30 "$ctx/.install.log" >&2
    up_die "wbo: npm ci failed"
}
rm -f "$ctx/.install.log"
mkdir -p server-data
copy_node_into "$ctx"
