#!/usr/bin/env bash
# Entrypoint of stackctl-test/mariadb: the contract of the official mariadb
# image's docker-entrypoint.sh, on Debian's mariadb-server.
#
#   MARIADB_ROOT_PASSWORD             root password; one of these three is
#   MARIADB_ALLOW_EMPTY_ROOT_PASSWORD required on an empty data directory
#   MARIADB_RANDOM_ROOT_PASSWORD      (the random one is printed)
#   MARIADB_ROOT_HOST                 host part of the network root (default %)
#   MARIADB_DATABASE                  database created at init
#   MARIADB_USER, MARIADB_PASSWORD    user created at init, with all
#                                     privileges on MARIADB_DATABASE
#   MYSQL_*                           the same, under the older names
#   *_FILE                            read a value from a file
#
# On an empty /var/lib/mysql: install the system tables, create the above,
# run /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz, then start.
set -Eeo pipefail

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

say() { printf '%s [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*"; }
fail() {
    printf '%s [ERROR] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*" >&2
    exit 1
}

# file_env NAME [DEFAULT]: MARIADB_NAME, MYSQL_NAME, or their _FILE forms.
file_env() {
    local name="$1" def="${2:-}" var val=''
    for var in "MARIADB_$name" "MYSQL_$name"; do
        if [ -n "${!var:-}" ] && [ -n "$(eval "printf '%s' \"\${${var}_FILE:-}\"")" ]; then
            fail "both $var and ${var}_FILE are set (but are exclusive)"
        fi
    done
    for var in "MARIADB_$name" "MYSQL_$name"; do
        local file_var="${var}_FILE"
        if [ -n "${!var:-}" ]; then
            val="${!var}"
            break
        elif [ -n "${!file_var:-}" ]; then
            val="$(<"${!file_var}")"
            break
        fi
    done
    export "MARIADB_$name"="${val:-$def}"
}

setup_env() {
    file_env ROOT_PASSWORD
    file_env ALLOW_EMPTY_ROOT_PASSWORD
    file_env RANDOM_ROOT_PASSWORD
    file_env ROOT_HOST %
    file_env DATABASE
    file_env USER
    file_env PASSWORD
    DATABASE_ALREADY_EXISTS=''
    if [ -d "$DATADIR/mysql" ]; then
        DATABASE_ALREADY_EXISTS=true
    fi
}

verify_minimum_env() {
    if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" ] &&
        [ -z "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
        fail "Database is uninitialized and password option is not specified
	You need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD"
    fi
    if [ -n "$MARIADB_USER" ] && [ -z "$MARIADB_PASSWORD" ]; then
        fail "MARIADB_PASSWORD is required with MARIADB_USER"
    fi
    if [ "$MARIADB_USER" = root ]; then
        fail "MARIADB_USER=root: use MARIADB_ROOT_PASSWORD for the root user"
    fi
}

# sql_escape STRING: the string, safe inside single quotes.
# A random password (hex; od reads a fixed count, so no SIGPIPE under pipefail).
random_password() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

sql_escape() { sed -e "s/\\\\/\\\\\\\\/g" -e "s/'/\\\\'/g" <<<"$1"; }

process_sql() { mariadb --no-defaults --protocol=socket --socket="$SOCKET" -uroot "$@"; }

temp_server_start() {
    mariadbd --skip-networking --socket="$SOCKET" --wsrep-on=OFF \
        --loose-innodb-buffer-pool-load-at-startup=0 --skip-ssl &
    declare -g TEMP_SERVER_PID=$!
    local i
    for i in $(seq 30); do
        if mariadb-admin --no-defaults --socket="$SOCKET" -uroot ping >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$TEMP_SERVER_PID" 2>/dev/null || fail "the temporary server did not start"
        sleep 1
    done
    fail "the temporary server did not answer within 30s"
}

temp_server_stop() {
    kill "$TEMP_SERVER_PID"
    wait "$TEMP_SERVER_PID" || true
}

setup_db() {
    local root_pw user_pw health_pw root_host
    if [ -n "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
        MARIADB_ROOT_PASSWORD="$(random_password)"
        say "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
    fi
    root_pw="$(sql_escape "$MARIADB_ROOT_PASSWORD")"
    root_host="$(sql_escape "$MARIADB_ROOT_HOST")"
    health_pw="$(random_password)"
    {
        echo "SET @@SESSION.SQL_LOG_BIN=0;"
        echo "DELETE FROM mysql.user WHERE user NOT IN ('mysql.sys', 'mariadb.sys', 'root') OR host NOT IN ('localhost');"
        echo "DELETE FROM mysql.proxies_priv WHERE host NOT IN ('localhost');"
        echo "DROP DATABASE IF EXISTS test;"
        echo "SET PASSWORD FOR 'root'@'localhost'=PASSWORD('$root_pw');"
        if [ "$MARIADB_ROOT_HOST" != localhost ]; then
            echo "CREATE USER 'root'@'$root_host' IDENTIFIED BY '$root_pw';"
            echo "GRANT ALL ON *.* TO 'root'@'$root_host' WITH GRANT OPTION;"
            echo "GRANT PROXY ON ''@'%' TO 'root'@'$root_host' WITH GRANT OPTION;"
        fi
        for host in 127.0.0.1 ::1 localhost; do
            echo "CREATE USER 'healthcheck'@'$host' IDENTIFIED BY '$health_pw';"
        done
        if [ -n "$MARIADB_DATABASE" ]; then
            echo "CREATE DATABASE IF NOT EXISTS \`${MARIADB_DATABASE//\`/\`\`}\`;"
        fi
        if [ -n "$MARIADB_USER" ]; then
            user_pw="$(sql_escape "$MARIADB_PASSWORD")"
            echo "CREATE USER '$(sql_escape "$MARIADB_USER")'@'%' IDENTIFIED BY '$user_pw';"
            if [ -n "$MARIADB_DATABASE" ]; then
                echo "GRANT ALL ON \`${MARIADB_DATABASE//\`/\`\`}\`.* TO '$(sql_escape "$MARIADB_USER")'@'%';"
            fi
        fi
        echo "FLUSH PRIVILEGES;"
    } | process_sql --database=mysql
    # Read by healthcheck.sh, as in the official image.
    printf '[mariadb-client]\nport=3306\nsocket=%s\nuser=healthcheck\npassword=%s\n' \
        "$SOCKET" "$health_pw" >"$DATADIR/.my-healthcheck.cnf"
    chmod 600 "$DATADIR/.my-healthcheck.cnf"
}

process_init_files() {
    local f
    for f in "$@"; do
        case "$f" in
            *.sh)
                say "running $f"
                if [ -x "$f" ]; then "$f"; else
                    # shellcheck disable=SC1090
                    . "$f"
                fi
                ;;
            *.sql)
                say "running $f"
                process_sql --password="$MARIADB_ROOT_PASSWORD" ${MARIADB_DATABASE:+--database="$MARIADB_DATABASE"} <"$f"
                ;;
            *.sql.gz)
                say "running $f"
                gunzip -c "$f" | process_sql --password="$MARIADB_ROOT_PASSWORD" ${MARIADB_DATABASE:+--database="$MARIADB_DATABASE"}
                ;;
            *) say "ignoring $f" ;;
        esac
    done
}

_main() {
    # `docker run IMAGE --character-set-server=utf8mb4` means `mariadbd --...`.
    if [ "${1:0:1}" = - ]; then
        set -- mariadbd "$@"
    fi
    if [ "$1" = mariadbd ] || [ "$1" = mysqld ]; then
        setup_env
        if [ "$(id -u)" = 0 ]; then
            mkdir -p "$DATADIR" /run/mysqld
            find "$DATADIR" /run/mysqld \! -user mysql -exec chown mysql:mysql '{}' +
            # Drop to the mysql user and start over.
            exec setpriv --reuid=mysql --regid=mysql --init-groups \
                env HOME=/var/lib/mysql "${BASH_SOURCE[0]}" "$@"
        fi
        if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
            verify_minimum_env
            say "Initializing database files"
            mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
                --skip-test-db --default-time-zone=SYSTEM --skip-log-bin >/dev/null
            say "Starting temporary server"
            temp_server_start
            setup_db
            shopt -s nullglob
            process_init_files /docker-entrypoint-initdb.d/*
            shopt -u nullglob
            temp_server_stop
            say "MariaDB init process done. Ready for start up."
        fi
    fi
    exec "$@"
}

_main "$@"
