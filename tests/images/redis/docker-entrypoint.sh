#!/bin/sh
# Entrypoint of stackctl-test/redis:7: the official redis image's contract on Debian's
# redis-server. `docker run IMAGE --appendonly yes` means `redis-server --appendonly yes`.
set -e

case "$1" in
    -* | *.conf) set -- redis-server "$@" ;;
esac

if [ "$1" = redis-server ]; then
    # The official image builds redis with protected mode off; a config file may turn it on.
    case "$2" in
        *.conf | --protected-mode) ;;
        *)
            shift
            set -- redis-server --protected-mode no "$@"
            ;;
    esac
    if [ "$(id -u)" = 0 ]; then
        find . \! -user redis -exec chown redis '{}' +
        exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
    fi
    umask 0077
fi

exec "$@"
