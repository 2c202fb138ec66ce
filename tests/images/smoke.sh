#!/usr/bin/env bash
# shellcheck disable=SC2317  # the test_* functions are called indirectly
# Smoke-test the images built by tests/images/build.sh: start each briefly on
# a throw-away user-defined network and check the contract it stands in for.
#
#   bash tests/images/smoke.sh                 # every image
#   bash tests/images/smoke.sh postgres museum-standin
#
# Prints PASS/FAIL per image; exits 1 if any failed. Every container and the
# network it creates are removed on exit. Traffic goes only to Docker's own
# bridge addresses.
set -euo pipefail

ALL=(postgres postgres17 socat minio-standin museum-standin ente-web-standin ente-cli-standin jellyfin-standin
    redis mastodon-standin mariadb etherpad wbo)
if [ $# -gt 0 ]; then
    SELECTED=("$@")
else
    SELECTED=("${ALL[@]}")
fi

RUN_ID="stackctl-smoke-$$"
NET="$RUN_ID"
WORK="$(mktemp -d)"
PY="$(command -v python3)"

cleanup() {
    local ids
    ids="$(docker ps -aq --filter "label=$RUN_ID" 2>/dev/null || true)"
    if [ -n "$ids" ]; then
        # shellcheck disable=SC2086
        docker rm -fv $ids >/dev/null 2>&1 || true
    fi
    docker network rm "$NET" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '  %s\n' "$*" >&2; }
problem() {
    say "FAILED: $*"
    return 1
}

docker info >/dev/null 2>&1 || {
    echo "smoke: docker engine not reachable" >&2
    exit 1
}
docker network create "$NET" >/dev/null

# run NAME [docker run args...] IMAGE [args]: detached, on the network, with
# the network alias NAME.
run() {
    local name="$1"
    shift
    docker run -d --name "$RUN_ID-$name" --label "$RUN_ID" --network "$NET" \
        --network-alias "$name" "$@" >/dev/null
}

ip_of() {
    docker inspect -f "{{ (index .NetworkSettings.Networks \"$NET\").IPAddress }}" "$RUN_ID-$1"
}

# wait_for SECONDS CMD...: retry CMD once a second.
wait_for() {
    local seconds="$1" i
    shift
    for ((i = 0; i < seconds; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 1
    done
    "$@" >/dev/null 2>&1
}

http_get() { # URL -> body on stdout, fails on non-2xx
    "$PY" -c 'import sys, urllib.request as u; sys.stdout.write(u.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"
}

http_post_json() { # URL JSON -> body
    "$PY" - "$1" "$2" <<'EOF'
import sys, urllib.request as u
req = u.Request(sys.argv[1], data=sys.argv[2].encode(), method="POST",
                headers={"Content-Type": "application/json"})
sys.stdout.write(u.urlopen(req, timeout=5).read().decode())
EOF
}

logs_of() { docker logs "$RUN_ID-$1" 2>&1; }

exited_with() { # NAME CODE: container stopped with that exit code
    [ "$(docker inspect -f '{{.State.Running}} {{.State.ExitCode}}' "$RUN_ID-$1")" = "false $2" ]
}

start_postgres() { # NAME USER PASSWORD DB
    run "$1" -e POSTGRES_USER="$2" -e POSTGRES_PASSWORD="$3" -e POSTGRES_DB="$4" \
        stackctl-test/postgres:15
    # TCP, not the socket: during init a socket-only server is up.
    wait_for 60 docker exec "$RUN_ID-$1" pg_isready -h 127.0.0.1 -U "$2" -d "$4" ||
        problem "$1 never became ready"
}

# ----------------------------------------------------------------- postgres

test_postgres() {
    start_postgres pg u p d || return 1
    local out
    out="$(docker run --rm --label "$RUN_ID" --network "$NET" -e PGPASSWORD=p \
        stackctl-test/postgres:15 psql -h pg -U u -d d -Atc 'select current_user, current_database()')" ||
        problem "TCP connection with the right password failed" || return 1
    [ "$out" = "u|d" ] || problem "unexpected answer: $out" || return 1
    say "TCP login with password: ok ($out)"
    out="$(docker run --rm --label "$RUN_ID" --network "$NET" -e PGPASSWORD=wrong \
        stackctl-test/postgres:15 psql -h pg -U u -d d -Atc 'select 1' 2>&1)" && {
        problem "wrong password was accepted"
        return 1
    }
    grep -q 'password authentication failed for user "u"' <<<"$out" ||
        problem "no 'password authentication failed' for a wrong password: $out" || return 1
    say "wrong password: password authentication failed"
    docker exec "$RUN_ID-pg" sh -c 'command -v psql && command -v createuser && command -v pg_isready' >/dev/null ||
        problem "client tools not on PATH" || return 1
    out="$(docker run --rm --label "$RUN_ID" stackctl-test/postgres:15 2>&1)" && {
        problem "started without POSTGRES_PASSWORD"
        return 1
    }
    grep -q 'superuser password is not specified' <<<"$out" ||
        problem "missing POSTGRES_PASSWORD not reported: $out" || return 1
    say "refuses to init without POSTGRES_PASSWORD"
}

# --------------------------------------------------------------- postgres17

# The next major, from trixie: it writes a 17 folder, and a 15 server refuses
# that folder (why deploy refuses a major change and pg-upgrade exists).
test_postgres17() {
    local data="$WORK/pg17" out
    mkdir -p "$data"
    run pg17 -e POSTGRES_PASSWORD=p -v "$data:/var/lib/postgresql/data" stackctl-test/postgres:17
    wait_for 60 docker exec "$RUN_ID-pg17" pg_isready -h 127.0.0.1 -U postgres ||
        problem "postgres:17 never became ready" || return 1
    out="$(docker exec "$RUN_ID-pg17" psql -U postgres -Atc 'show server_version')"
    [ "${out%%.*}" = 17 ] || problem "server_version is $out" || return 1
    [ "$(cat "$data/PG_VERSION")" = 17 ] || problem "PG_VERSION is not 17" || return 1
    say "server_version $out; PG_VERSION 17"
    docker stop "$RUN_ID-pg17" >/dev/null
    out="$(docker run --rm --label "$RUN_ID" -v "$data:/var/lib/postgresql/data" \
        stackctl-test/postgres:15 2>&1)" && {
        problem "postgres:15 started on a 17 folder"
        return 1
    }
    grep -q 'incompatible with server' <<<"$out" ||
        problem "no 'incompatible with server' from 15 on a 17 folder: $out" || return 1
    say "postgres:15 refuses the 17 folder: database files are incompatible"
}

# -------------------------------------------------------------------- socat

test_socat() {
    run socat-backend stackctl-test/socat:latest \
        TCP-LISTEN:7000,fork,reuseaddr SYSTEM:'echo hello-from-socat'
    run socat-front stackctl-test/socat:latest \
        TCP-LISTEN:8000,fork,reuseaddr TCP:socat-backend:7000
    local ip out
    ip="$(ip_of socat-front)"
    wait_for 10 "$PY" -c 'import socket,sys; socket.create_connection((sys.argv[1], 8000), 1)' "$ip" ||
        problem "socat not listening" || return 1
    out="$("$PY" -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 8000), 5)
print(s.recv(100).decode().strip())' "$ip")"
    [ "$out" = "hello-from-socat" ] || problem "forwarded answer was '$out'" || return 1
    say "command: is socat's arguments; forwarding works"
}

# ------------------------------------------------------------ minio-standin

test_minio_standin() {
    local out
    out="$(docker run --rm --label "$RUN_ID" -e MINIO_ROOT_USER=admin \
        stackctl-test/minio-standin:latest server /data 2>&1)" && {
        problem "started without MINIO_ROOT_PASSWORD"
        return 1
    }
    grep -q 'MINIO_ROOT_PASSWORD' <<<"$out" || problem "unclear refusal: $out" || return 1
    say "refuses to start without MINIO_ROOT_PASSWORD"

    run minio -e MINIO_ROOT_USER=changeme -e MINIO_ROOT_PASSWORD=changeme1234 \
        stackctl-test/minio-standin:latest server /data --address ":3200" --console-address ":3201"
    wait_for 30 docker exec "$RUN_ID-minio" mc ready local || problem "mc ready local failed" || return 1
    say "mc ready local: ok"

    local script
    script='
import sys, boto3, botocore
def client(key, secret):
    return boto3.client("s3", endpoint_url="http://%s:3200" % sys.argv[1], region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)
good = client("changeme", "changeme1234")
if sys.argv[2] == "restarted":
    names = [b["Name"] for b in good.list_buckets()["Buckets"]]
    assert names == ["b2-eu-cen"], names
    body = good.get_object(Bucket="b2-eu-cen", Key="1/one")["Body"].read()
    assert body == bytes(range(256)), body
    sys.exit(print("after a restart: b2-eu-cen and its object, byte for byte"))
good.create_bucket(Bucket="b2-eu-cen")
good.put_object(Bucket="b2-eu-cen", Key="1/one", Body=bytes(range(256)))
names = [b["Name"] for b in good.list_buckets()["Buckets"]]
assert names == ["b2-eu-cen"], names
try:
    client("changeme", "not-the-password").list_buckets()
    sys.exit("a wrong secret key was accepted")
except botocore.exceptions.ClientError as exc:
    assert exc.response["Error"]["Code"] == "SignatureDoesNotMatch", exc.response
print("created and listed b2-eu-cen; wrong secret refused")
'
    s3_script "$script" first || return 1
    # buckets and objects are kept in the data folder: a restart keeps them
    docker restart "$RUN_ID-minio" >/dev/null
    wait_for 30 docker exec "$RUN_ID-minio" mc ready local || problem "not ready after a restart" || return 1
    s3_script "$script" restarted || return 1
}

s3_script() { # SCRIPT PHASE: run a boto3 script against the minio stand-in
    local ip out
    ip="$(ip_of minio)"
    if "$PY" -c 'import boto3' >/dev/null 2>&1; then
        out="$("$PY" -c "$1" "$ip" "$2" 2>&1)" || problem "boto3 from the host: $out" || return 1
    else
        # No boto3 on this host: use the one inside the image, as a client.
        out="$(docker run --rm --label "$RUN_ID" --network "$NET" --entrypoint /opt/minio-standin/bin/python \
            stackctl-test/minio-standin:latest -c "$1" "$ip" "$2" 2>&1)" ||
            problem "boto3 client container: $out" || return 1
    fi
    say "$out"
}

# ----------------------------------------------------------- museum-standin

b64() { "$PY" -c 'import base64, os, sys; n = int(sys.argv[1]); print((base64.urlsafe_b64encode if sys.argv[2:] else base64.b64encode)(os.urandom(n)).decode())' "$@"; }

museum_yaml() { # FILE ENCRYPTION_KEY
    cat >"$1" <<EOF
db:
  host: museum-db
  port: 5432
  name: ente_db
  user: pguser
  password: pgpass
key:
  encryption: $2
  hash: $(b64 64)
jwt:
  secret: $(b64 32 url)
internal:
  admins:
    - 1580559962386438
  hardcoded-ott:
    emails:
      - "fixed@example.org,123456"
EOF
    chmod 644 "$1"
}

test_museum_standin() {
    start_postgres museum-db pguser pgpass ente_db || return 1
    museum_yaml "$WORK/museum.yaml" "$(b64 32)"
    museum_yaml "$WORK/museum-31.yaml" "$(b64 31)"

    run museum-bad -v "$WORK/museum-31.yaml:/museum.yaml:ro" stackctl-test/museum-standin:latest
    wait_for 20 exited_with museum-bad 1 || problem "a 31-byte key.encryption did not exit 1" || return 1
    # (no `logs | grep -q`: with pipefail, grep quitting early fails the pipe)
    grep -q 'key.encryption decodes to 31 bytes, expected 32' <<<"$(logs_of museum-bad)" ||
        problem "no key length message: $(logs_of museum-bad)" || return 1
    say "31-byte key.encryption: exit 1 with message"

    run museum-badpw -v "$WORK/museum.yaml:/museum.yaml:ro" -e ENTE_DB_PASSWORD=wrong \
        stackctl-test/museum-standin:latest
    wait_for 20 exited_with museum-badpw 2 || problem "wrong db password did not exit 2" || return 1
    grep -qx 'panic: pq: password authentication failed for user "pguser"' <<<"$(logs_of museum-badpw)" ||
        problem "no pq panic: $(logs_of museum-badpw)" || return 1
    say "wrong ENTE_DB_PASSWORD: panic: pq: password authentication failed, exit 2"

    run museum -v "$WORK/museum.yaml:/museum.yaml:ro" stackctl-test/museum-standin:latest
    local ip out
    ip="$(ip_of museum)"
    wait_for 40 http_get "http://$ip:8080/ping" || problem "no /ping: $(logs_of museum)" || return 1
    out="$(http_get "http://$ip:8080/ping")"
    [ "$out" = '{"id":"standin","message":"pong"}' ] || problem "/ping answered $out" || return 1
    say "/ping: $out"

    http_post_json "http://$ip:8080/users/ott" '{"email":" Fixed@Example.org ","purpose":"signup"}' >/dev/null ||
        problem "POST /users/ott failed" || return 1
    http_post_json "http://$ip:8080/users/ott" '{"email":"new@example.org","purpose":"signup"}' >/dev/null ||
        problem "POST /users/ott failed" || return 1
    sleep 0.5
    logs_of museum >"$WORK/museum.log"
    "$PY" - "$WORK/museum.log" <<'EOF' || problem "log lines differ (see above)" || return 1
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
C, W, R = "\x1b[36m", "\x1b[33m", "\x1b[0m"
def line(color, level, caller, msg, **fields):
    pat = re.escape(f"{color}{level}{R}[") + r"\d{4}" + re.escape(f"]{caller} {msg:<44} ")
    for k in sorted(fields):
        pat += re.escape(f" {color}{k}{R}=") + fields[k]
    return pat
expected = [
    line(C, "INFO", "main.go:91 main", "Booting up local server with commit #standin"),
    line(C, "INFO", "main.go:781 setupDatabase", "Setting up db"),
    line(C, "INFO", "main.go:796 setupDatabase", "Connected to DB"),
    line(C, "INFO", "main.go:203 main", "admins configured", admins=re.escape("[1580559962386438]")),
    line(C, "INFO", "main.go:433 main", "starting server on port 8080"),
    line(W, "WARN", "userauth.go:142 SendEmailOTT", "returning hardcoded ott for fixed@example.org"),
    line(C, "INFO", "userauth.go:159 SendEmailOTT", "Added hard coded ott for fixed@example.org : 123456"),
    re.escape(f"{C}INFO{R}[") + r"\d{4}"
    + re.escape("]email.go:111 Send Skipping sending email to new@example.org: Verification code: ")
    + r"\d{6} ",
    line(C, "INFO", "request_logger.go:119 func5", "outgoing", client_ip=r"[0-9.]+", req_method="POST",
         req_uri=re.escape("/users/ott"), status_code="200", user_id="0"),
]
ok = True
for pat in expected:
    if not any(re.fullmatch(pat, l) for l in lines):
        ok = False
        print("  missing line matching:", repr(pat), file=sys.stderr)
if not ok:
    print("  log was:", *map(repr, lines), sep="\n    ", file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
    say "OTT requests: exact coloured log lines"
    local started
    started=$SECONDS
    docker stop -t 10 "$RUN_ID-museum" >/dev/null
    [ $((SECONDS - started)) -lt 5 ] || problem "SIGTERM took $((SECONDS - started))s" || return 1
    say "SIGTERM: stopped in $((SECONDS - started))s"
}

# --------------------------------------------------------- ente-web-standin

test_ente_web_standin() {
    run web -e ENTE_API_ORIGIN=https://api.smoke.test stackctl-test/ente-web-standin:latest
    local ip port out
    ip="$(ip_of web)"
    wait_for 20 http_get "http://$ip:3000/" || problem "port 3000 not answering" || return 1
    for port in 3000 3001 3002 3003 3004 3005 3006 3008 3009 3010; do
        out="$(http_get "http://$ip:$port/some/deep/link")" || problem "port $port" || return 1
        grep -q "<dd id=\"port\">$port</dd>" <<<"$out" || problem "port $port page: $out" || return 1
        grep -q '<dd id="api-origin">https://api.smoke.test</dd>' <<<"$out" ||
            problem "port $port: API origin not substituted" || return 1
    done
    docker exec "$RUN_ID-web" wget -q -O /dev/null http://localhost:3000/ || problem "wget healthcheck" || return 1
    say "10 ports answer with their app and ENTE_API_ORIGIN; wget works"
}

# --------------------------------------------------------- ente-cli-standin

test_ente_cli_standin() {
    # The CLI checks that the API endpoint answers /ping: a static pong.
    run museum-fake stackctl-test/ente-cli-standin:latest sh -c \
        'mkdir -p /srv && echo "{\"id\":\"x\",\"message\":\"pong\"}" >/srv/ping &&
         cd /srv && exec python3 -m http.server 8080'
    run cli stackctl-test/ente-cli-standin:latest
    docker exec "$RUN_ID-cli" sh -c 'printf "endpoint:\n  api: http://museum-fake:8080\n" > /cli-data/config.yaml'
    local out
    wait_for 10 docker exec "$RUN_ID-cli" ./ente-cli admin list-users || problem "list-users" || return 1
    out="$(docker exec "$RUN_ID-cli" ./ente-cli admin update-subscription -a admin@example.org \
        -u user@example.org --no-limit True)" || problem "update-subscription failed: $out" || return 1
    [ "$out" = "Successfully updated storage and expiry date for user user@example.org" ] ||
        problem "update-subscription said: $out" || return 1
    out="$(docker exec "$RUN_ID-cli" cat /cli-data/standin-calls.log)"
    [ "$out" = '["admin", "update-subscription", "-a", "admin@example.org", "-u", "user@example.org", "--no-limit", "True"]' ] ||
        problem "calls log: $out" || return 1
    out="$(docker exec "$RUN_ID-cli" ./ente-cli account list)"
    [ "$out" = "Configured accounts: 0" ] || problem "account list: $out" || return 1
    say "update-subscription, list-users, account list; call logged"
}

# --------------------------------------------------------- jellyfin-standin

test_jellyfin_standin() {
    # Runs as a non-root uid, as the recipe runs it.
    mkdir -p "$WORK/jellyfin-config" && chmod 777 "$WORK/jellyfin-config"
    run jellyfin --user 990:990 -v "$WORK/jellyfin-config:/config" stackctl-test/jellyfin-standin:latest
    local ip out auth='MediaBrowser Client="smoke", Device="smoke", DeviceId="smoke", Version="1"'
    ip="$(ip_of jellyfin)"
    wait_for 10 http_get "http://$ip:8096/health" || problem "/health not answering" || return 1
    out="$(http_get "http://$ip:8096/health")"
    [ "$out" = Degraded ] || problem "/health during start-up said $out" || return 1
    wait_for 15 sh -c "docker exec $RUN_ID-jellyfin curl -fsS http://localhost:8096/health | grep -qx Healthy" ||
        problem "never Healthy (or no curl in the image)" || return 1
    out="$("$PY" - "$ip" "$auth" <<'PYEOF'
import json, sys, urllib.request as u
ip, auth = sys.argv[1], sys.argv[2]
def call(method, path, body=None, headers=None):
    req = u.Request(f"http://{ip}:8096{path}", method=method,
                    data=None if body is None else json.dumps(body).encode(), headers=headers or {})
    try:
        with u.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except u.HTTPError as e:
        return e.code, e.read()
h = {"Authorization": auth, "Content-Type": "application/json"}
assert call("GET", "/Startup/User", headers=h)[0] == 200
assert call("POST", "/Startup/User", {"Name": "admin", "Password": "pw"}, h)[0] == 204
assert call("POST", "/Startup/Complete", headers=h)[0] == 204
status, body = call("POST", "/Users/AuthenticateByName", {"Username": "admin", "Pw": "pw"}, h)
token = json.loads(body)["AccessToken"]
assert call("GET", "/Auth/Keys", headers={"X-Emby-Token": token})[0] == 401
assert call("GET", "/Auth/Keys?api_key=" + token)[0] == 401
assert call("GET", "/Auth/Keys", headers={"Authorization": auth + f', Token="{token}"'})[0] == 200
print("ok")
PYEOF
)" || problem "API contract: $out" || return 1
    docker restart "$RUN_ID-jellyfin" >/dev/null
    wait_for 15 sh -c "docker exec $RUN_ID-jellyfin curl -fsS http://localhost:8096/health | grep -qx Healthy" ||
        problem "not Healthy after a restart" || return 1
    http_get "http://$ip:8096/System/Info/Public" | grep -q '"StartupWizardCompleted": true' ||
        problem "the wizard state did not survive a restart" || return 1
    say "Degraded then Healthy; wizard, login, header-only auth; state survives a restart"
}

# -------------------------------------------------------------------- redis

test_redis() {
    run redis stackctl-test/redis:7
    wait_for 30 docker run --rm --label "$RUN_ID" --network "$NET" stackctl-test/redis:7 \
        redis-cli -h redis ping || problem "no PONG from another container" || return 1
    docker exec "$RUN_ID-redis" redis-cli set k v >/dev/null
    [ "$(docker exec "$RUN_ID-redis" redis-cli get k)" = v ] || problem "set/get failed" || return 1
    [ "$(docker exec "$RUN_ID-redis" stat -c %u /data)" = 999 ] || problem "/data not uid 999" || return 1
    say "PONG across the network (protected mode off), set/get, /data owned by 999"
}

# --------------------------------------------------------- mastodon-standin

test_mastodon_standin() {
    start_postgres mdb postgres p postgres || return 1
    run mredis stackctl-test/redis:7
    local env=(
        -e DB_HOST=mdb -e DB_USER=postgres -e DB_PASS=p -e DB_NAME=mastodon_production
        -e REDIS_HOST=mredis -e LOCAL_DOMAIN=smoke.lan
        -e SECRET_KEY_BASE="$(printf 'a%.0s' $(seq 128))"
        -e ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY=DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD
        -e ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT=SSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSS
        -e ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY=PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP
        -e VAPID_PRIVATE_KEY=z_qGhzPeqjaDz1GldcNtz0wQ5tSID3jY7-doDXTyyMQ=
        -e VAPID_PUBLIC_KEY=BD-NlWLlExCWkFPwseSkdU9nHVEF_nzsOtoh3bhqp392AzLsi73YD-BQl-mJfWa02gA4XfhXwcqiQVsDRy0IUmE=
    )
    local image=stackctl-test/mastodon-standin:latest out
    one() { docker run --rm --label "$RUN_ID" --network "$NET" "${env[@]}" "$image" "$@" 2>&1; }
    out="$(one bundle exec rails db:setup)" || problem "db:setup failed: $out" || return 1
    grep -q "Created database 'mastodon_production'" <<<"$out" || problem "no database: $out" || return 1
    out="$(one bin/tootctl accounts create alice --email a@smoke.lan --confirmed --role Owner)" ||
        problem "accounts create failed: $out" || return 1
    grep -Eq '^New password: [0-9a-f]{32}$' <<<"$out" || problem "no password: $out" || return 1
    out="$(one bin/tootctl accounts create admin --email b@smoke.lan)" && {
        problem "a reserved username was accepted"
        return 1
    }
    say "db:setup, accounts create (New password), reserved names refused"
    out="$(docker run --rm --label "$RUN_ID" --network "$NET" "${env[@]}" \
        -e ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY= "$image" bundle exec rails db:migrate 2>&1)" && {
        problem "started without an encryption key"
        return 1
    }
    grep -q 'Mastodon now requires that these variables are set' <<<"$out" ||
        problem "missing key not reported: $out" || return 1
    run mweb "${env[@]}" "$image" bundle exec puma -C config/puma.rb
    run mstream "${env[@]}" "$image" node ./streaming/index.js
    run msidekiq "${env[@]}" "$image" bundle exec sidekiq
    wait_for 30 docker exec "$RUN_ID-mweb" sh -c "curl -s localhost:3000/health | grep -q OK" ||
        problem "web /health" || return 1
    wait_for 30 docker exec "$RUN_ID-mstream" sh -c \
        "curl -s localhost:4000/api/v1/streaming/health | grep -q OK" || problem "streaming health" || return 1
    wait_for 30 docker exec "$RUN_ID-msidekiq" sh -c "ps aux | grep -q '[s]idekiq [0-9]'" ||
        problem "sidekiq process title" || return 1
    [ "$(docker exec "$RUN_ID-mweb" id -u)" = 991 ] || problem "not uid 991" || return 1
    say "missing keys refused; web, streaming and sidekiq health checks pass as uid 991"
}

# ------------------------------------------------------------------ mariadb

test_mariadb() {
    # not "mdb": the mastodon-standin check has a Postgres by that name in the same run
    local image=stackctl-test/mariadb:10.11 out
    run maria -e MARIADB_ROOT_PASSWORD=rootpw -e MARIADB_DATABASE=d -e MARIADB_USER=u \
        -e MARIADB_PASSWORD="p'w" "$image"
    wait_for 60 docker exec "$RUN_ID-maria" healthcheck.sh --connect --innodb_initialized ||
        problem "healthcheck.sh --connect --innodb_initialized never passed" || return 1
    out="$(docker run --rm --label "$RUN_ID" --network "$NET" "$image" \
        mariadb -h maria -u u "-pp'w" d -N -e 'select current_user(), database()')" ||
        problem "TCP login as MARIADB_USER failed" || return 1
    [ "$out" = "$(printf 'u@%%\td')" ] || problem "unexpected answer: $out" || return 1
    say "TCP login as MARIADB_USER into MARIADB_DATABASE: ok"
    out="$(docker run --rm --label "$RUN_ID" --network "$NET" "$image" \
        mariadb -h maria -u root -prootpw -N -e "show grants for 'u'@'%'")" ||
        problem "root login over the network failed" || return 1
    grep -q 'GRANT ALL PRIVILEGES ON `d`.\* TO `u`@`%`' <<<"$out" || problem "grants: $out" || return 1
    out="$(docker run --rm --label "$RUN_ID" --network "$NET" "$image" \
        mariadb -h maria -u u -pwrong -e 'select 1' 2>&1)" && {
        problem "wrong password was accepted"
        return 1
    }
    grep -q "Access denied for user 'u'" <<<"$out" || problem "wrong password: $out" || return 1
    say "root from the network; wrong password: Access denied"
    out="$(docker run --rm --label "$RUN_ID" "$image" 2>&1)" && {
        problem "initialised without a root password option"
        return 1
    }
    grep -q 'password option is not specified' <<<"$out" || problem "no root password: $out" || return 1
    say "refuses to init without MARIADB_ROOT_PASSWORD (or ALLOW_EMPTY/RANDOM)"
}

# ----------------------------------------------------------------- etherpad

test_etherpad() {
    start_postgres epdb ep pw ep || return 1
    run etherpad -e DB_TYPE=postgres -e DB_HOST=epdb -e DB_PORT=5432 -e DB_NAME=ep -e DB_USER=ep \
        -e DB_PASS=pw -e AUTHENTICATION_METHOD=apikey -e ADMIN_PASSWORD=adminpw \
        stackctl-test/etherpad:2.5.3
    local ip key out
    ip="$(ip_of etherpad)"
    wait_for 120 sh -c "docker exec $RUN_ID-etherpad curl -fsS localhost:9001/health | grep -q '\"status\":\"pass\"'" ||
        problem "/health never said pass: $(logs_of etherpad | tail -n 20)" || return 1
    say "/health: $(http_get "http://$ip:9001/health")"
    [ "$(docker exec "$RUN_ID-etherpad" id -u):$(docker exec "$RUN_ID-etherpad" id -g)" = 5001:0 ] ||
        problem "not uid 5001 gid 0" || return 1
    key="$(docker exec "$RUN_ID-etherpad" cat /opt/etherpad-lite/APIKEY.txt)" ||
        problem "no APIKEY.txt with AUTHENTICATION_METHOD=apikey" || return 1
    out="$(http_get "http://$ip:9001/api/1.3.0/createPad?apikey=$key&padID=smoke&text=hello-smoke")" ||
        problem "createPad failed" || return 1
    [ "$out" = '{"code":0,"message":"ok","data":null}' ] || problem "createPad said $out" || return 1
    out="$(http_get "http://$ip:9001/api/1.3.0/getText?apikey=$key&padID=smoke")"
    [ "$out" = '{"code":0,"message":"ok","data":{"text":"hello-smoke\n"}}' ] ||
        problem "getText said $out" || return 1
    out="$("$PY" - "http://$ip:9001/api/1.3.0/getText?apikey=wrong&padID=smoke" <<'EOF'
import sys, urllib.request as u
try:
    r = u.urlopen(sys.argv[1], timeout=5)
    print(r.status, r.read().decode())
except u.HTTPError as e:
    print(e.code, e.read().decode())
EOF
)"
    grep -q '^401 .*"code":4' <<<"$out" || problem "a wrong API key got $out" || return 1
    out="$(docker exec "$RUN_ID-epdb" psql -U ep -d ep -Atc "select value from store where key = 'pad:smoke'")"
    grep -q 'hello-smoke' <<<"$out" || problem "pad row not in Postgres: $out" || return 1
    say "API key: createPad/getText, wrong key refused (code 4); the pad is a row in Postgres"
    out="$("$PY" - "$ip" <<'EOF'
import base64, sys, urllib.request as u
def status(pw):
    auth = base64.b64encode(f"admin:{pw}".encode()).decode()
    req = u.Request(f"http://{sys.argv[1]}:9001/admin-auth/", method="POST",
                    headers={"Authorization": "Basic " + auth})
    try:
        return u.urlopen(req, timeout=5).status
    except u.HTTPError as e:
        return e.code
print(status("adminpw"), status("wrong"))
EOF
)"
    [ "$out" = "200 401" ] || problem "admin-auth right/wrong password: $out" || return 1
    say "ADMIN_PASSWORD: admin-auth 200, wrong password 401"
}

# ---------------------------------------------------------------------- wbo

test_wbo() {
    run wbo -e PORT=8080 stackctl-test/wbo:2.17.0
    # Docker lets any uid bind low ports by default; restore the kernel's rule
    # so that port 80 proves the image's CAP_NET_BIND_SERVICE on node.
    run wbo80 --sysctl net.ipv4.ip_unprivileged_port_start=1024 stackctl-test/wbo:2.17.0
    local ip out
    ip="$(ip_of wbo)"
    wait_for 30 http_get "http://$ip:8080/manifest.json" || problem "/manifest.json on PORT=8080" || return 1
    out="$(http_get "http://$ip:8080/manifest.json")"
    "$PY" -c 'import json,sys; assert "WBO" in json.loads(sys.argv[1])["name"]' "$out" ||
        problem "manifest: $out" || return 1
    out="$(http_get "http://$ip:8080/boards/smoke")" || problem "/boards/smoke" || return 1
    grep -qi '<html' <<<"$out" || problem "/boards/smoke is not a page" || return 1
    say "PORT=8080: /manifest.json and /boards/smoke"
    wait_for 30 http_get "http://$(ip_of wbo80):80/manifest.json" ||
        problem "default port 80 as uid 1000" || return 1
    [ "$(docker exec "$RUN_ID-wbo" id -u):$(docker exec "$RUN_ID-wbo" pwd)" = 1000:/opt/app ] ||
        problem "not uid 1000 in /opt/app" || return 1
    docker exec "$RUN_ID-wbo" test -w /opt/app/server-data || problem "server-data not writable" || return 1
    say "default PORT 80 as uid 1000 (node's bind capability); /opt/app/server-data writable"
}

# --------------------------------------------------------------------- main

declare -A RESULT
failed=0
for image in "${SELECTED[@]}"; do
    fn="test_${image//-/_}"
    if ! declare -F "$fn" >/dev/null; then
        echo "smoke: unknown image '$image' (known: ${ALL[*]})" >&2
        exit 2
    fi
    echo "== $image" >&2
    # In a subshell: a failing check cannot leak state into the next image.
    if ("$fn"); then
        RESULT[$image]=PASS
    else
        RESULT[$image]=FAIL
        failed=1
    fi
done

echo
for image in "${SELECTED[@]}"; do
    printf '%s %s\n' "${RESULT[$image]}" "$image"
done
exit "$failed"
