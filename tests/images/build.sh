#!/usr/bin/env bash
# Build the local images the stackctl tests run instead of upstream images
# (no image registry is reachable from the test machines).
#
#   bash tests/images/build.sh                  # build what is missing
#   bash tests/images/build.sh --force          # rebuild every image, no cache
#   bash tests/images/build.sh postgres socat   # only these (and the base)
#   bash tests/images/build.sh --refresh-rootfs # also redo the debootstrap
#
# Every tag lives under stackctl-test/. An image whose tag exists is skipped,
# unless its build folder changed since it was built (each image carries a
# label with a hash of its folder) or --force is given.
#
# 1. stackctl-test/debian:bookworm is imported from a debootstrap (minbase)
#    root filesystem, cached in $STACKCTL_TEST_CACHE (default
#    /var/cache/stackctl-test) so that re-importing it is cheap. An image
#    built with SUITE=<suite> gets stackctl-test/debian:<suite> the same way
#    (trixie, for the second Postgres major).
# 2. Every other image is `docker build`-t FROM it, from tests/images/<name>/,
#    with the build arguments its entry lists (one folder may give several tags).
#    Packages come from Debian over plain HTTP; pip (only the MinIO stand-in
#    needs PyPI) trusts the host's CA bundle, copied into the build context.
# 3. A folder with a prepare.sh (etherpad, wbo) builds a real app from an
#    upstream source snapshot in ../shared/upstream/ beside the repo:
#    prepare.sh fills the build context on the host (Node 24 and pnpm from the
#    npm registry, package stores in the cache folder), and the snapshot's
#    checksum is part of the image's build hash. See tests/images/upstream.sh.
#
# Environment:
#   STACKCTL_TEST_CACHE      cache folder        (default /var/cache/stackctl-test)
#   STACKCTL_DEBIAN_MIRROR   Debian mirror       (default http://deb.debian.org/debian)
#   STACKCTL_CA_BUNDLE       CA bundle for pip   (default /etc/ssl/certs/ca-certificates.crt)
#   STACKCTL_UPSTREAM_DIR    source snapshots    (default <repo>/../shared/upstream)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${STACKCTL_TEST_CACHE:-/var/cache/stackctl-test}"
MIRROR="${STACKCTL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CA_BUNDLE="${STACKCTL_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
HASH_LABEL=org.stackctl.test.build-hash

# name of the folder under tests/images/ -> image tag [build arguments], in build order.
IMAGES=(
    "postgres=stackctl-test/postgres:15 SUITE=bookworm PG_MAJOR=15"
    "postgres=stackctl-test/postgres:17 SUITE=trixie PG_MAJOR=17"
    "socat=stackctl-test/socat:latest"
    "minio-standin=stackctl-test/minio-standin:latest"
    "museum-standin=stackctl-test/museum-standin:latest"
    "ente-web-standin=stackctl-test/ente-web-standin:latest"
    "ente-cli-standin=stackctl-test/ente-cli-standin:latest"
    "jellyfin-standin=stackctl-test/jellyfin-standin:latest"
    "redis=stackctl-test/redis:7"
    "mastodon-standin=stackctl-test/mastodon-standin:latest"
    "mariadb=stackctl-test/mariadb:10.11"
    "etherpad=stackctl-test/etherpad:2.5.3"
    "wbo=stackctl-test/wbo:2.17.0"
    "synapse=stackctl-test/synapse:v1.163.2"
    "mas-standin=stackctl-test/mas-standin:latest"
)

FORCE=0
REFRESH_ROOTFS=0
ONLY=()

usage() {
    sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    printf '\nimages: debian'
    local entry
    # one name per folder (postgres builds two majors)
    for entry in "${IMAGES[@]}"; do printf '%s\n' "${entry%%=*}"; done | uniq | tr '\n' ' ' |
        sed 's/^/ /; s/ $//'
    printf '\n'
}

while [ $# -gt 0 ]; do
    case "$1" in
        -f | --force) FORCE=1 ;;
        --refresh-rootfs) REFRESH_ROOTFS=1 FORCE=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        -*)
            echo "build.sh: unknown option $1" >&2
            usage >&2
            exit 2
            ;;
        *) ONLY+=("$1") ;;
    esac
    shift
done

log() { printf '[images] %s\n' "$*" >&2; }
die() {
    printf '[images] ERROR: %s\n' "$*" >&2
    exit 1
}

command -v docker >/dev/null 2>&1 || die "docker client not found"
docker info >/dev/null 2>&1 || die "docker engine not reachable (run scripts/lib/engine.sh)"

wanted() {
    local name="$1" o
    [ ${#ONLY[@]} -eq 0 ] && return 0
    for o in "${ONLY[@]}"; do
        [ "$o" = "$name" ] && return 0
    done
    return 1
}

for o in "${ONLY[@]}"; do
    ok=0
    [ "$o" = debian ] && ok=1
    for entry in "${IMAGES[@]}"; do [ "${entry%%=*}" = "$o" ] && ok=1; done
    [ "$ok" = 1 ] || die "unknown image '$o'"
done

# Hash of everything that goes into an image's build context.
folder_hash() {
    local dir="$1"
    (
        cd "$dir"
        find . -type f ! -name '*.pyc' -print0 | LC_ALL=C sort -z |
            xargs -0 sha256sum
        # file modes matter too (scripts must stay executable)
        find . -type f ! -name '*.pyc' -printf '%p %m\n' | LC_ALL=C sort
    ) | sha256sum | cut -c1-16
}

image_hash() {
    docker image inspect --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true
}

image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }

# Remove the image a tag pointed to before a rebuild, unless still in use.
drop_old() {
    local old="$1" tag="$2"
    if [ -n "$old" ] && [ "$old" != "$(image_id "$tag")" ]; then
        docker rmi "$old" >/dev/null 2>&1 || true
    fi
}

# True when tag $1 exists and was built from hash $2.
up_to_date() {
    local tag="$1" want="$2" have
    docker image inspect "$tag" >/dev/null 2>&1 || return 1
    have="$(image_hash "$tag")"
    if [ "$have" != "$want" ]; then
        log "$tag exists but its build folder changed; rebuilding"
        return 1
    fi
    return 0
}

# ---------------------------------------------------------------- base image

rootfs_params() { printf 'suite=%s variant=minbase mirror=%s rev=1' "$1" "$MIRROR"; }

build_rootfs() {
    local rootfs="$1" SUITE="$2" tmp ROOTFS_PARAMS
    ROOTFS_PARAMS="$(rootfs_params "$SUITE")"
    command -v debootstrap >/dev/null 2>&1 ||
        die "debootstrap not installed (apt-get install debootstrap, or run scripts/lib/engine.sh)"
    mkdir -p "$CACHE"
    tmp="$(mktemp -d "$CACHE/rootfs-$SUITE.XXXXXX")"
    log "debootstrap --variant=minbase $SUITE (this takes a few minutes)"
    if ! debootstrap --variant=minbase "$SUITE" "$tmp" "$MIRROR" >"$CACHE/debootstrap-$SUITE.log" 2>&1; then
        tail -n 30 "$CACHE/debootstrap-$SUITE.log" >&2
        rm -rf "$tmp"
        die "debootstrap failed (full log: $CACHE/debootstrap-$SUITE.log)"
    fi
    # Small, container-friendly defaults like Debian's official images.
    rm -rf "$tmp"/var/lib/apt/lists/* "$tmp"/var/cache/apt/*.bin \
        "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/log/*.log \
        "$tmp"/var/log/apt/* "$tmp"/tmp/* "$tmp"/var/tmp/*
    printf '#!/bin/sh\n# No service is started by package installs in an image.\nexit 101\n' \
        >"$tmp/usr/sbin/policy-rc.d"
    chmod 755 "$tmp/usr/sbin/policy-rc.d"
    cat >"$tmp/etc/apt/apt.conf.d/90stackctl-test" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
EOF
    cat >"$tmp/etc/dpkg/dpkg.cfg.d/90stackctl-test" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    : >"$tmp/etc/hostname"
    printf '%s\n' "$ROOTFS_PARAMS" >"$tmp/.stackctl-rootfs"
    rm -rf "$rootfs"
    mv "$tmp" "$rootfs"
}

build_base() {
    local SUITE="${1:-bookworm}"
    local rootfs="$CACHE/rootfs-$SUITE" hash BASE_TAG="stackctl-test/debian:$SUITE" ROOTFS_PARAMS
    ROOTFS_PARAMS="$(rootfs_params "$SUITE")"
    hash="$(printf '%s' "$ROOTFS_PARAMS" | sha256sum | cut -c1-16)"
    # --force with a list of images rebuilds the base only when it is listed.
    local force="$FORCE"
    if [ ${#ONLY[@]} -gt 0 ] && ! wanted debian; then
        force=0
    fi
    if [ "$force" = 0 ] && up_to_date "$BASE_TAG" "$hash"; then
        log "$BASE_TAG exists; skipping"
        return 0
    fi
    if [ "$REFRESH_ROOTFS" = 1 ] || [ ! -f "$rootfs/.stackctl-rootfs" ] ||
        [ "$(cat "$rootfs/.stackctl-rootfs")" != "$ROOTFS_PARAMS" ]; then
        build_rootfs "$rootfs" "$SUITE"
    else
        log "reusing cached root filesystem $rootfs"
    fi
    log "importing $BASE_TAG"
    local old
    old="$(image_id "$BASE_TAG")"
    tar --numeric-owner --xattrs -C "$rootfs" -c \
        --exclude=./.stackctl-rootfs --exclude='./dev/*' --exclude='./proc/*' \
        --exclude='./sys/*' . |
        docker import \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'ENV LANG=C.UTF-8' \
            --change 'CMD ["bash"]' \
            --change "LABEL $HASH_LABEL=$hash" \
            --message "debootstrap --variant=minbase $SUITE" \
            - "$BASE_TAG" >/dev/null
    drop_old "$old" "$BASE_TAG"
}

# ---------------------------------------------------------- derived images

# Hash of the folder plus, for an image built from an upstream snapshot, what
# its prepare.sh says it is built from.
build_hash() {
    local dir="$1" inputs
    if [ ! -x "$dir/prepare.sh" ]; then
        folder_hash "$dir"
        return
    fi
    inputs="$(STACKCTL_TEST_CACHE="$CACHE" STACKCTL_CA_BUNDLE="$CA_BUNDLE" "$dir/prepare.sh" --inputs)" ||
        die "cannot tell what $(basename "$dir") is built from"
    printf '%s\n%s\n' "$(folder_hash "$dir")" "$inputs" | sha256sum | cut -c1-16
}

build_one() {
    local name="$1" tag="$2" dir="$HERE/$1" hash ctx arg
    shift 2 # the rest: build arguments, NAME=VALUE
    [ -f "$dir/Dockerfile" ] || die "missing $dir/Dockerfile"
    hash="$(build_hash "$dir")"
    if [ $# -gt 0 ]; then # one folder, several images: the arguments are part of the hash
        hash="$(printf '%s\n%s\n' "$hash" "$*" | sha256sum | cut -c1-16)"
    fi
    if [ "$FORCE" = 0 ] && up_to_date "$tag" "$hash"; then
        log "$tag exists; skipping"
        return 0
    fi
    ctx="$(mktemp -d)"
    # shellcheck disable=SC2064
    trap "rm -rf '$ctx'" RETURN
    cp -a "$dir/." "$ctx/"
    cp "$CA_BUNDLE" "$ctx/ca-bundle.crt"
    local start=$SECONDS old
    if [ -x "$dir/prepare.sh" ]; then
        log "preparing $tag from its upstream snapshot"
        STACKCTL_TEST_CACHE="$CACHE" STACKCTL_CA_BUNDLE="$CA_BUNDLE" "$dir/prepare.sh" "$ctx" ||
            die "preparing $tag failed"
    fi
    log "building $tag"
    local args=(--pull=false --label "$HASH_LABEL=$hash" -t "$tag")
    for arg in "$@"; do args+=(--build-arg "$arg"); done
    old="$(image_id "$tag")"
    if [ "$FORCE" = 1 ]; then
        args+=(--no-cache)
    fi
    if ! docker build "${args[@]}" "$ctx" >"$ctx.log" 2>&1; then
        tail -n 40 "$ctx.log" >&2
        rm -f "$ctx.log"
        die "docker build of $tag failed"
    fi
    rm -f "$ctx.log"
    drop_old "$old" "$tag"
    log "built $tag in $((SECONDS - start))s"
}

[ -r "$CA_BUNDLE" ] || die "CA bundle $CA_BUNDLE not readable"

start=$SECONDS
build_base bookworm
for entry in "${IMAGES[@]}"; do
    name="${entry%%=*}"
    read -r tag build_args <<<"${entry#*=}"
    wanted "$name" || continue
    suite="$(sed -n 's/.*SUITE=\([a-z]*\).*/\1/p' <<<"$build_args")"
    if [ -n "$suite" ] && [ "$suite" != bookworm ]; then
        build_base "$suite"
    fi
    # shellcheck disable=SC2086  # the build arguments are words
    build_one "$name" "$tag" $build_args
done
log "done in $((SECONDS - start))s"
