#!/usr/bin/env bash
# Install and start a Docker engine (dockerd + the compose v2 plugin) on a
# Debian/Ubuntu machine that has no systemd, for the stackctl test suite.
#
#   bash scripts/lib/engine.sh          # install if needed, start if needed
#   source scripts/lib/engine.sh        # only defines the engine_* functions;
#   engine_ensure                       # ... then call what you need
#
# Idempotent: every step checks first and does nothing when already done.
# A dockerd that is already running (ours or anybody else's) is reused.
#
# Debian bookworm ships docker.io 20.10 and only compose v1, so on bookworm the
# engine (26.1) and compose v2 (2.26) come from trixie. trixie is added as an
# apt source pinned at priority 100, so nothing else is ever upgraded to it,
# and only the docker packages are asked for by name with the /trixie suffix
# (`apt-get -t trixie` would raise every installed package to trixie too).
#
# Environment:
#   STACKCTL_DOCKERD_LOG      dockerd log file      (default /var/log/dockerd.log)
#   STACKCTL_DOCKERD_TIMEOUT  seconds to wait for it (default 60)

ENGINE_DOCKERD_LOG="${STACKCTL_DOCKERD_LOG:-/var/log/dockerd.log}"
ENGINE_DOCKERD_TIMEOUT="${STACKCTL_DOCKERD_TIMEOUT:-60}"
ENGINE_TRIXIE_LIST=/etc/apt/sources.list.d/stackctl-trixie.list
ENGINE_TRIXIE_PIN=/etc/apt/preferences.d/stackctl-trixie
ENGINE_PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
# where Debian's docker packages put their CLI plugins (set after sourcing to look elsewhere)
ENGINE_PLUGIN_SOURCE_DIRS=(/usr/libexec/docker/cli-plugins /usr/lib/docker/cli-plugins)

engine_log() { printf '[engine] %s\n' "$*" >&2; }

engine_die() {
    printf '[engine] ERROR: %s\n' "$*" >&2
    return 1
}

# Run as root, or through sudo when available.
engine_sudo() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -E "$@"
    else
        engine_die "need root (or sudo) to run: $*"
    fi
}

engine_apt() {
    engine_sudo env DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a \
        apt-get -y -q -o Dpkg::Options::=--force-confdef \
        -o Dpkg::Options::=--force-confold "$@"
}

ENGINE_APT_UPDATED=""
engine_apt_update() {
    if [ -z "$ENGINE_APT_UPDATED" ]; then
        engine_apt update
        ENGINE_APT_UPDATED=1
    fi
}

# Write $2 to file $1 only when the content differs. Returns 0 when changed.
engine_write_file() {
    local path="$1" content="$2"
    if [ -f "$path" ] && [ "$(cat "$path")" = "$content" ]; then
        return 1
    fi
    printf '%s\n' "$content" | engine_sudo tee "$path" >/dev/null
    return 0
}

# True when `docker compose version` reports compose v2 or newer.
engine_have_compose_v2() {
    local out
    out="$(docker compose version --short 2>/dev/null)" || return 1
    out="${out#v}"
    case "$out" in
        [2-9].* | [1-9][0-9]*.*) return 0 ;;
        *) return 1 ;;
    esac
}

# True for a file name the docker CLI takes as a plugin: docker-NAME, NAME a lower
# case letter then lower case letters and digits (the CLI plugin spec). A package
# manager's leftover (docker-compose.dpkg-old, docker-compose~) never matches.
engine_is_plugin_name() {
    [[ "$1" =~ ^docker-[a-z][a-z0-9]*$ ]]
}

# Any docker client on PATH (e.g. a newer one in /usr/local/bin) must find the
# compose and buildx plugins that Debian installs in /usr/libexec.
engine_link_plugins() {
    command -v docker >/dev/null 2>&1 || return 0
    if engine_have_compose_v2; then
        return 0
    fi
    local dir plugin linked=""
    for dir in "${ENGINE_PLUGIN_SOURCE_DIRS[@]}"; do
        [ -d "$dir" ] || continue
        for plugin in "$dir"/docker-*; do
            [ -f "$plugin" ] && [ -x "$plugin" ] || continue
            engine_is_plugin_name "$(basename "$plugin")" || continue
            engine_sudo mkdir -p "$ENGINE_PLUGIN_DIR"
            engine_sudo ln -sfn "$plugin" "$ENGINE_PLUGIN_DIR/$(basename "$plugin")"
            linked=1
        done
    done
    if [ -n "$linked" ]; then
        engine_log "linked docker CLI plugins into $ENGINE_PLUGIN_DIR"
    fi
}

# shellcheck source=/dev/null
engine_os_id() { (. /etc/os-release 2>/dev/null && echo "${ID:-}"); }
# shellcheck source=/dev/null
engine_os_codename() { (. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}"); }

engine_install_docker() {
    local id codename
    id="$(engine_os_id)"
    codename="$(engine_os_codename)"
    case "$id:$codename" in
        debian:bullseye | debian:bookworm)
            engine_log "adding Debian trixie (pinned at 100) for docker.io and compose v2"
            engine_write_file "$ENGINE_TRIXIE_LIST" \
                'deb http://deb.debian.org/debian trixie main' || true
            engine_write_file "$ENGINE_TRIXIE_PIN" "$(printf '%s\n' \
                '# Only packages asked for explicitly (pkg/trixie) come from trixie.' \
                'Package: *' \
                'Pin: release n=trixie' \
                'Pin-Priority: 100')" || true
            engine_apt update
            ENGINE_APT_UPDATED=1
            engine_apt install --no-install-recommends \
                docker.io/trixie docker-cli/trixie containerd/trixie \
                docker-buildx/trixie docker-compose/trixie
            ;;
        ubuntu:*)
            engine_apt_update
            engine_apt install --no-install-recommends \
                docker.io docker-compose-v2 docker-buildx
            ;;
        *)
            # Debian trixie or newer (and derivatives): the archive has it all.
            engine_apt_update
            engine_apt install --no-install-recommends \
                docker.io docker-cli docker-buildx docker-compose
            ;;
    esac
}

# Install dockerd + compose v2 (skipped when both are already there) and
# debootstrap (when missing).
engine_install() {
    engine_link_plugins
    if command -v dockerd >/dev/null 2>&1 && engine_have_compose_v2; then
        engine_log "dockerd and compose v2 already installed; skipping install"
    else
        engine_install_docker
        hash -r
        engine_link_plugins
    fi
    command -v dockerd >/dev/null 2>&1 || engine_die "dockerd still missing after install" || return 1
    engine_have_compose_v2 || engine_die "'docker compose version' does not report compose v2" || return 1

    if ! command -v debootstrap >/dev/null 2>&1; then
        engine_apt_update
        engine_apt install --no-install-recommends debootstrap
    fi
}

engine_ready() { docker info >/dev/null 2>&1; }

# True when pid file $1 names a live process called $2.
engine_pidfile_live() {
    local pid
    pid="$(cat "$1" 2>/dev/null || true)"
    engine_pid_alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

engine_dockerd_running() {
    engine_pidfile_live /var/run/docker.pid dockerd || pgrep -x dockerd >/dev/null 2>&1
}

# Pid files left by a dockerd/containerd that died with the machine or the
# session: their pids may now belong to other processes, which would make
# dockerd refuse to start (or signal the wrong process).
engine_clear_stale_pidfiles() {
    local file name
    for file in /var/run/docker.pid:dockerd /var/run/docker/containerd/containerd.pid:containerd; do
        name="${file##*:}"
        file="${file%:*}"
        if [ -e "$file" ] && ! engine_pidfile_live "$file" "$name"; then
            engine_sudo rm -f "$file"
        fi
    done
}

# Wait until `docker info` answers; returns 1 after the timeout or when the
# dockerd we started died.
engine_wait() {
    local timeout="$1" pid="${2:-}" waited=0
    while [ "$waited" -lt "$timeout" ]; do
        engine_ready && return 0
        if [ -n "$pid" ] && ! engine_pid_alive "$pid"; then
            return 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    engine_ready
}

engine_iptables_is_legacy() {
    grep -q legacy <<<"$(iptables --version 2>/dev/null)"
}

engine_use_iptables_legacy() {
    local tool
    for tool in iptables ip6tables; do
        if [ -x "/usr/sbin/${tool}-legacy" ]; then
            engine_sudo update-alternatives --set "$tool" "/usr/sbin/${tool}-legacy" >/dev/null
        fi
    done
}

# Start dockerd in the background with the given extra flags; echo its pid.
engine_spawn_dockerd() {
    engine_sudo mkdir -p "$(dirname "$ENGINE_DOCKERD_LOG")"
    # shellcheck disable=SC2016
    engine_sudo sh -c '
        log="$1"; shift
        printf "\n===== %s: dockerd %s\n" "$(date -u +%FT%TZ)" "$*" >>"$log"
        nohup setsid dockerd "$@" </dev/null >>"$log" 2>&1 &
        echo $!
    ' sh "$ENGINE_DOCKERD_LOG" "$@"
}

engine_pid_alive() { [ -n "${1:-}" ] && [ -d "/proc/$1" ]; }

engine_fail_with_log() {
    printf '[engine] ERROR: %s\n[engine] last lines of %s:\n' "$1" "$ENGINE_DOCKERD_LOG" >&2
    tail -n 40 "$ENGINE_DOCKERD_LOG" >&2 2>/dev/null || true
    return 1
}

# Start dockerd unless `docker info` already works, then wait for it.
engine_start() {
    if engine_ready; then
        engine_log "docker engine already running; reusing it"
        return 0
    fi
    if engine_dockerd_running; then
        engine_log "dockerd is running but not answering yet; waiting"
        engine_wait "$ENGINE_DOCKERD_TIMEOUT" && return 0
        engine_fail_with_log "a running dockerd did not answer 'docker info' within ${ENGINE_DOCKERD_TIMEOUT}s"
        return 1
    fi
    command -v dockerd >/dev/null 2>&1 || engine_die "dockerd not installed (run engine_install)" || return 1

    local pid
    engine_clear_stale_pidfiles
    engine_log "starting dockerd (log: $ENGINE_DOCKERD_LOG)"
    pid="$(engine_spawn_dockerd)"
    if engine_wait "$ENGINE_DOCKERD_TIMEOUT" "$pid"; then
        engine_log "docker engine is up"
        return 0
    fi

    # Some VMs have a kernel without nf_tables support for iptables-nft (or
    # the reverse). If dockerd died on an iptables error, switch the
    # alternatives to iptables-legacy and try once more; as a last resort run
    # without iptables management (published ports still work through the
    # userland proxy).
    if ! engine_pid_alive "$pid" &&
        grep -qiE 'iptables|nf_tables|nftables|xtables' <<<"$(tail -n 60 "$ENGINE_DOCKERD_LOG")"; then
        if ! engine_iptables_is_legacy && [ -x /usr/sbin/iptables-legacy ]; then
            engine_log "dockerd failed on iptables; switching to iptables-legacy and retrying"
            engine_use_iptables_legacy
            pid="$(engine_spawn_dockerd)"
            if engine_wait "$ENGINE_DOCKERD_TIMEOUT" "$pid"; then
                engine_log "docker engine is up (iptables-legacy)"
                return 0
            fi
        fi
        if ! engine_pid_alive "$pid"; then
            engine_log "dockerd failed on iptables again; retrying with --iptables=false"
            pid="$(engine_spawn_dockerd --iptables=false --ip-masq=false)"
            if engine_wait "$ENGINE_DOCKERD_TIMEOUT" "$pid"; then
                engine_log "docker engine is up (without iptables management)"
                return 0
            fi
        fi
    fi
    if engine_pid_alive "$pid"; then
        engine_fail_with_log "dockerd did not become ready within ${ENGINE_DOCKERD_TIMEOUT}s"
    else
        engine_fail_with_log "dockerd exited during startup"
    fi
}

engine_ensure() {
    engine_install && engine_start || return 1
    docker compose version >&2
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    engine_ensure
fi
