#!/bin/sh
# Like the real image's /docker-entrypoint.d/90-replace-ente-env.sh: put the
# configured origins into the served files, then run nginx.
set -eu
: "${ENTE_API_ORIGIN:=http://localhost:8080}"
: "${ENTE_ALBUMS_ORIGIN:=https://localhost:3002}"
: "${ENTE_PHOTOS_ORIGIN:=https://localhost:3000}"
escape() { printf '%s' "$1" | sed 's/[\\#&]/\\&/g'; }
api="$(escape "$ENTE_API_ORIGIN")"
albums="$(escape "$ENTE_ALBUMS_ORIGIN")"
photos="$(escape "$ENTE_PHOTOS_ORIGIN")"
find /out -type f \( -name '*.js' -o -name '*.html' -o -name '*.json' \) -exec sed -i \
    -e "s#ENTE_API_ORIGIN_PLACEHOLDER#$api#g" \
    -e "s#ENTE_ALBUMS_ORIGIN_PLACEHOLDER#$albums#g" \
    -e "s#ENTE_PHOTOS_ORIGIN_PLACEHOLDER#$photos#g" {} +
echo "ente-web-standin: API origin $ENTE_API_ORIGIN" >&2
exec "$@"
