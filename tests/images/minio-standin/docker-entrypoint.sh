#!/bin/sh
# Like MinIO's image: `docker run IMAGE server /data ...` runs `minio server /data ...`.
set -e
if [ "$#" -eq 0 ] || ! command -v "$1" >/dev/null 2>&1; then
    set -- minio "$@"
fi
exec "$@"
