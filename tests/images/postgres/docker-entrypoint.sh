#!/usr/bin/env bash
# Entrypoint of stackctl-test/postgres:15 and :17: the contract of the official
# postgres image's docker-entrypoint.sh, on Debian's postgresql-$PG_MAJOR.
#
#   POSTGRES_PASSWORD          superuser password (required unless
#                              POSTGRES_HOST_AUTH_METHOD=trust)
#   POSTGRES_USER              superuser name (default postgres)
#   POSTGRES_DB                database created at init (default = user)
#   POSTGRES_INITDB_ARGS       extra initdb arguments
#   POSTGRES_INITDB_WALDIR     separate WAL directory
#   POSTGRES_HOST_AUTH_METHOD  pg_hba method for host connections
#                              (default scram-sha-256)
#   PGDATA                     data directory (default /var/lib/postgresql/data)
#   *_FILE                     read POSTGRES_PASSWORD/USER/DB/INITDB_ARGS from a file
#
# On an empty PGDATA: initdb, create POSTGRES_DB, run
# /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz, then start. Otherwise start.
set -Eeo pipefail

# file_env VAR [DEFAULT]: VAR or VAR_FILE (not both) or DEFAULT.
file_env() {
    local var="$1" fileVar="${1}_FILE" def="${2:-}" val
    if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
        printf >&2 'error: both %s and %s are set (but are exclusive)\n' "$var" "$fileVar"
        exit 1
    fi
    val="$def"
    if [ "${!var:-}" ]; then
        val="${!var}"
    elif [ "${!fileVar:-}" ]; then
        val="$(<"${!fileVar}")"
    fi
    export "$var"="$val"
    unset "$fileVar"
}

docker_create_db_directories() {
    local user
    user="$(id -u)"
    mkdir -p "$PGDATA"
    chmod 00700 "$PGDATA" || :
    mkdir -p /var/run/postgresql || :
    chmod 03775 /var/run/postgresql || :
    if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
        mkdir -p "$POSTGRES_INITDB_WALDIR"
        if [ "$user" = 0 ]; then
            find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres '{}' +
        fi
        chmod 700 "$POSTGRES_INITDB_WALDIR"
    fi
    if [ "$user" = 0 ]; then
        find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
        find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
    fi
}

docker_verify_minimum_env() {
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
        cat >&2 <<-'EOE'
			Error: Database is uninitialized and superuser password is not specified.
			       You must specify POSTGRES_PASSWORD to a non-empty value for the
			       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

			       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
			       connections without a password. This is *not* recommended.
		EOE
        exit 1
    fi
    if [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then
        cat >&2 <<-'EOWARN'
			********************************************************************************
			WARNING: POSTGRES_HOST_AUTH_METHOD has been set to "trust". This will allow
			         anyone with access to the Postgres port to access your database without
			         a password, even if POSTGRES_PASSWORD is set.
			********************************************************************************
		EOWARN
    fi
    if [ "${#POSTGRES_PASSWORD}" -ge 100 ]; then
        echo >&2 'WARNING: the POSTGRES_PASSWORD value is 100 characters or longer.'
    fi
}

docker_init_database_dir() {
    local args=()
    if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
        args+=(--waldir "$POSTGRES_INITDB_WALDIR")
    fi
    if [ -n "$POSTGRES_PASSWORD" ]; then
        # shellcheck disable=SC2086
        initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
            "${args[@]}" $POSTGRES_INITDB_ARGS
    else
        # shellcheck disable=SC2086
        initdb --username="$POSTGRES_USER" "${args[@]}" $POSTGRES_INITDB_ARGS
    fi
}

# initdb's defaults trust the local socket and loopback; host connections from
# anywhere else use POSTGRES_HOST_AUTH_METHOD (scram-sha-256 by default).
pg_setup_hba_conf() {
    {
        printf '\n'
        if [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then
            printf '# warning trust is enabled for all connections\n'
        fi
        printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD"
    } >>"$PGDATA/pg_hba.conf"
}

docker_temp_server_start() {
    PGUSER="${PGUSER:-$POSTGRES_USER}" \
        pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
}

docker_temp_server_stop() {
    PGUSER="${PGUSER:-postgres}" pg_ctl -D "$PGDATA" -m fast -w stop
}

docker_process_sql() {
    local query_runner=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
    if [ -n "$POSTGRES_DB" ]; then
        query_runner+=(--dbname "$POSTGRES_DB")
    fi
    PGHOST='' PGHOSTADDR='' "${query_runner[@]}" "$@"
}

docker_setup_db() {
    local exists
    # shellcheck disable=SC2097,SC2098
    exists="$(POSTGRES_DB=postgres docker_process_sql --dbname postgres --set db="$POSTGRES_DB" --tuples-only <<-'EOSQL'
		SELECT 1 FROM pg_database WHERE datname = :'db' ;
	EOSQL
    )"
    if [ -z "$exists" ]; then
        # shellcheck disable=SC2097,SC2098
        POSTGRES_DB=postgres docker_process_sql --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
			CREATE DATABASE :"db" ;
		EOSQL
        printf '\n'
    fi
}

docker_process_init_files() {
    local f
    printf '\n'
    for f in "$@"; do
        case "$f" in
            *.sh)
                if [ -x "$f" ]; then
                    printf '%s: running %s\n' "$0" "$f"
                    "$f"
                else
                    printf '%s: sourcing %s\n' "$0" "$f"
                    # shellcheck disable=SC1090
                    . "$f"
                fi
                ;;
            *.sql)
                printf '%s: running %s\n' "$0" "$f"
                docker_process_sql -f "$f"
                printf '\n'
                ;;
            *.sql.gz)
                printf '%s: running %s\n' "$0" "$f"
                gunzip -c "$f" | docker_process_sql
                printf '\n'
                ;;
            *) printf '%s: ignoring %s\n' "$0" "$f" ;;
        esac
        printf '\n'
    done
}

docker_setup_env() {
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    : "${POSTGRES_HOST_AUTH_METHOD:=}"
    if [ -z "$POSTGRES_HOST_AUTH_METHOD" ]; then
        POSTGRES_HOST_AUTH_METHOD=scram-sha-256
    fi
    export POSTGRES_HOST_AUTH_METHOD
    declare -g DATABASE_ALREADY_EXISTS=''
    if [ -s "$PGDATA/PG_VERSION" ]; then
        DATABASE_ALREADY_EXISTS=true
    fi
}

_main() {
    # `docker run IMAGE -c fsync=off` means `postgres -c fsync=off`.
    if [ "${1:0:1}" = '-' ]; then
        set -- postgres "$@"
    fi

    if [ "$1" = postgres ]; then
        docker_setup_env
        docker_create_db_directories
        if [ "$(id -u)" = 0 ]; then
            # Drop to the postgres user and start over.
            exec setpriv --reuid=postgres --regid=postgres --init-groups \
                env HOME=/var/lib/postgresql "${BASH_SOURCE[0]}" "$@"
        fi

        if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
            docker_verify_minimum_env
            ls /docker-entrypoint-initdb.d/ >/dev/null
            docker_init_database_dir
            pg_setup_hba_conf

            export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
            docker_temp_server_start "$@"
            docker_setup_db
            shopt -s nullglob
            docker_process_init_files /docker-entrypoint-initdb.d/*
            shopt -u nullglob
            docker_temp_server_stop
            unset PGPASSWORD

            cat <<-'EOM'

				PostgreSQL init process complete; ready for start up.

			EOM
        else
            cat <<-'EOM'

				PostgreSQL Database directory appears to contain a database; Skipping initialization

			EOM
        fi
    fi

    exec "$@"
}

_main "$@"
