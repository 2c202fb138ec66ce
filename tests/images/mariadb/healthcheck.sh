#!/usr/bin/env bash
# The official mariadb image's health check, for the tests that use it:
#   healthcheck.sh --connect               a TCP login works
#   healthcheck.sh --innodb_initialized    InnoDB is up
# Any number of checks; all must pass. Credentials come from the
# .my-healthcheck.cnf the entrypoint writes at init.
set -eo pipefail

cnf=/var/lib/mysql/.my-healthcheck.cnf
client() { mariadb --defaults-extra-file="$cnf" "$@"; }

[ $# -gt 0 ] || set -- --connect
for check in "$@"; do
    case "$check" in
        --connect)
            client --protocol=tcp --host=127.0.0.1 -e 'select 1' >/dev/null
            ;;
        --innodb_initialized)
            [ "$(client -N -e "select count(*) from information_schema.ENGINES
                where engine = 'innodb' and support in ('YES', 'DEFAULT', 'ENABLED')")" = 1 ]
            ;;
        --su-mysql) ;; # the official script drops to mysql; this one needs no privileges
        *)
            echo "healthcheck.sh: unknown check $check" >&2
            exit 1
            ;;
    esac
done
