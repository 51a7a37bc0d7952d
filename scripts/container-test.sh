#!/bin/sh
# SPDX-License-Identifier: MIT
# The container test (`make container-test`, run by .ci/run): builds the
# images of the Dockerfile, brings up docker-compose.yml with the simulators,
# pushes a few hundred orders through two replicas while one is stopped with
# SIGTERM and the other killed with SIGKILL, and checks the end state with
# scripts/container_check.py. Prints the image size, the start-up time to
# /readyz 200 and the durations of each step.
#
# From nothing it installs docker.io, docker-compose and debootstrap (root,
# Debian's archive), starts dockerd when none runs and, when no image
# debian:bookworm-slim exists, builds one with debootstrap from the mirror in
# this machine's apt sources. Everything it starts (containers, network,
# volume, and dockerd if it started it) is removed at the end. A machine
# where Docker cannot run fails the test.
#
# Knobs: SCB_CT_ORDERS (orders pushed, 400), SCB_CT_KEEP=1 (leave the stack
# and dockerd running), SCB_SWAGGER (path of the Sellercloud Swagger file).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)

# The whole test is bounded: after 45 minutes it stops and cleans up.
if [ -z "${SCB_CT_BOUNDED:-}" ]; then
    SCB_CT_BOUNDED=1 exec timeout --kill-after=120 2700 \
        sh "$ROOT/scripts/container-test.sh" "$@"
fi

PROJECT=scbct
TAG=ct
BASE_IMAGE=debian:bookworm-slim
ORDERS=${SCB_CT_ORDERS:-400}
SWAGGER=${SCB_SWAGGER:-$ROOT/../shared/contracts/sellercloud-swagger-2022.json}
T0=$(date +%s)
WORK=$(mktemp -d /tmp/scb-ct.XXXXXX)
DOCKERD_PID=
STACK_UP=0
RESULT=1

log() { printf 'container-test: %s\n' "$*"; }
die() {
    log "FAIL: $*"
    exit 1
}
elapsed() { echo $(($(date +%s) - $1)); }

# run_logged LIMIT_S NAME CMD...: runs CMD with a time limit, its output in
# $WORK/NAME.log, shown (the last 60 lines) only when it fails.
run_logged() {
    rl_limit=$1
    rl_name=$2
    shift 2
    if ! timeout --kill-after=20 "$rl_limit" "$@" >"$WORK/$rl_name.log" 2>&1
    then
        tail -n 60 "$WORK/$rl_name.log" | sed "s/^/    $rl_name| /"
        die "$rl_name failed or ran over ${rl_limit}s"
    fi
}

# run_retry LIMIT_S NAME CMD...: run_logged, tried a second time after a
# failure (a download from Debian's archive can fail once).
run_retry() {
    rr_limit=$1
    rr_name=$2
    shift 2
    if timeout --kill-after=20 "$rr_limit" "$@" >"$WORK/$rr_name.log" 2>&1
    then
        return 0
    fi
    tail -n 5 "$WORK/$rr_name.log" | sed "s/^/    $rr_name| /"
    log "$rr_name failed once; trying again"
    run_logged "$rr_limit" "$rr_name" "$@"
}

compose() {
    timeout --kill-after=20 300 docker-compose -p "$PROJECT" \
        -f "$ROOT/docker-compose.yml" --profile sim "$@"
}

cleanup() {
    set +e
    if [ "$STACK_UP" = 1 ]; then
        if [ "$RESULT" != 0 ]; then
            log "logs of the stack (last 40 lines of each):"
            compose logs --no-color --tail=40 2>&1 | sed 's/^/    /'
        fi
        if [ "${SCB_CT_KEEP:-0}" = 1 ]; then
            log "SCB_CT_KEEP=1: stack $PROJECT left running"
        else
            compose down -v --remove-orphans -t 15 >"$WORK/down.log" 2>&1 ||
                cat "$WORK/down.log"
        fi
    fi
    if [ -n "$DOCKERD_PID" ] && [ "${SCB_CT_KEEP:-0}" != 1 ]; then
        kill "$DOCKERD_PID" 2>/dev/null
        i=0
        while kill -0 "$DOCKERD_PID" 2>/dev/null && [ $i -lt 30 ]; do
            sleep 1
            i=$((i + 1))
        done
    fi
    rm -rf "$WORK"
    if [ "$RESULT" = 0 ]; then
        log "PASS in $(elapsed "$T0")s"
    else
        log "FAILED after $(elapsed "$T0")s"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---- Docker itself ---------------------------------------------------------

need_packages() {
    missing=
    for p in docker.io docker-compose debootstrap; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q "ok installed"; then
            missing="$missing $p"
        fi
    done
    [ -z "$missing" ] && return 0
    [ "$(id -u)" = 0 ] || die "need root to install$missing"
    log "installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    run_retry 300 apt-update apt-get update
    # shellcheck disable=SC2086
    run_retry 900 apt-install apt-get install -y --no-install-recommends \
        $missing
}

start_dockerd() {
    if timeout 20 docker info >/dev/null 2>&1; then
        log "dockerd already running"
        return 0
    fi
    command -v dockerd >/dev/null || die "dockerd not found"
    log "starting dockerd"
    # In a session of its own: a signal to this test's process group must
    # not stop it before the cleanup has removed the stack.
    setsid dockerd >"$WORK/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    i=0
    until timeout 10 docker info >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 60 ]; then
            tail -n 30 "$WORK/dockerd.log" | sed 's/^/    dockerd| /'
            die "dockerd did not start: Docker cannot run on this machine"
        fi
        sleep 1
    done
    # setsid may have forked: the daemon's own pid is in its pid file.
    DOCKERD_PID=$(cat /var/run/docker.pid 2>/dev/null || echo "$DOCKERD_PID")
}

# "URI SUITE" for each Debian bookworm suite of this machine's apt sources
# (one-line and deb822 formats).
apt_suites() {
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '$1 == "deb" {
            i = 2; if ($2 ~ /^\[/) while (i <= NF && $i !~ /\]$/) i++
            if ($2 ~ /^\[/) i++
            if ($(i + 1) ~ /^bookworm(-updates|-security)?$/)
                print $i, $(i + 1)
        }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk '
        function flush(  i, j) {
            if (types ~ /(^| )deb( |$)/)
                for (i = 1; i <= nu; i++)
                    for (j = 1; j <= ns; j++)
                        if (ss[j] ~ /^bookworm(-updates|-security)?$/)
                            print us[i], ss[j]
            types = ""; nu = 0; ns = 0
        }
        /^[ \t]*$/ { flush(); next }
        /^[ \t]*#/ { next }
        /^Types:/ { types = $0 }
        /^URIs:/ { nu = split(substr($0, 6), us, " ") }
        /^Suites:/ { ns = split(substr($0, 8), ss, " ") }
        END { flush() }' "$f"
    done
}

# debian:bookworm-slim from debootstrap (minbase), trimmed like the
# official slim image, with this machine's Debian sources.
make_base_image() {
    suites=$(apt_suites | sort -u)
    mirror=$(echo "$suites" | awk '$2 == "bookworm" { print $1; exit }')
    [ -n "$mirror" ] || die "no bookworm source in this machine's apt sources"
    log "building $BASE_IMAGE with debootstrap (minbase)"
    t=$(date +%s)
    rootfs="$WORK/rootfs"
    # shellcheck disable=SC2016
    run_retry 900 debootstrap sh -c 'rm -rf "$1" &&
        exec debootstrap --variant=minbase bookworm "$1" "$2"' sh \
        "$rootfs" "$mirror"
    rm -f "$rootfs/etc/apt/sources.list"
    echo "$suites" | awk '
        { s[$1] = s[$1] (s[$1] == "" ? "" : " ") $2 }
        END { for (u in s) printf "Types: deb\nURIs: %s\nSuites: %s\n" \
            "Components: main\nSigned-By: " \
            "/usr/share/keyrings/debian-archive-keyring.gpg\n\n", u, s[u] }' \
        >"$rootfs/etc/apt/sources.list.d/debian.sources"
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
    printf 'APT::Install-Recommends "false";\n' \
        >"$rootfs/etc/apt/apt.conf.d/90slim"
    find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright \
        ! -type d -delete 2>/dev/null || true
    rm -rf "$rootfs/usr/share/man/"* "$rootfs/usr/share/info/"* \
        "$rootfs/usr/share/locale/"* "$rootfs/var/lib/apt/lists/"* \
        "$rootfs/var/cache/apt/"*.bin "$rootfs/var/cache/apt/archives/"*.deb \
        "$rootfs/var/log/"*.log
    tar -C "$rootfs" -c . |
        docker import --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null ||
        die "docker import of the base image failed"
    rm -rf "$rootfs"
    log "base image ready in $(elapsed "$t")s"
}

# ---- images -----------------------------------------------------------------

build_images() {
    sha=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    for target in build runtime sim lb redis; do
        case $target in
        runtime) image=scbridge ;;
        *) image=scbridge-$target ;;
        esac
        tb=$(date +%s)
        # The legacy builder, with the host's network: the build steps
        # reach Debian's archive the way this machine does.
        run_retry 1200 "docker-build-$target" env DOCKER_BUILDKIT=0 \
            docker build --network host --target "$target" \
            --build-arg GIT_SHA="$sha" -t "$image:$TAG" "$ROOT"
        log "image $image:$TAG built in $(elapsed "$tb")s"
    done
    # Old builds of these stages, now untagged.
    docker image prune -f --filter label=org.scbridge.stage >/dev/null 2>&1 ||
        true
}

check_runtime_image() {
    size=$(docker image inspect -f '{{.Size}}' "scbridge:$TAG")
    log "runtime image scbridge:$TAG: $((size / 1048576)) MiB" \
        "($size bytes)"
    user=$(docker image inspect -f '{{.Config.User}}' "scbridge:$TAG")
    case $user in
    "" | root | 0 | 0:*) die "runtime image runs as root" ;;
    esac
    hc=$(docker image inspect -f '{{json .Config.Healthcheck}}' \
        "scbridge:$TAG")
    case $hc in
    */livez*) ;;
    *) die "runtime image has no HEALTHCHECK on /livez" ;;
    esac
    # Compiler commands on PATH, and compiler or toolchain packages.
    found=$(docker run --rm --network none --entrypoint /bin/sh \
        "scbridge:$TAG" -c 'for c in gcc cc c99 c++ g++ clang tcc make ld \
            as cpp; do command -v "$c"; done
            dpkg-query -W -f="\${Package} \${Status}\n" |
                grep " ok installed" | cut -d" " -f1 |
                grep -E -e "^(gcc|g\+\+|cpp|clang|tcc)(-[0-9]+)?$" \
                    -e "^(binutils|make|libc6-dev|build-essential)$"
            true') || die "cannot run the runtime image"
    if [ -n "$found" ]; then
        echo "$found" | sed 's/^/    /'
        die "runtime image holds a compiler or build tools"
    fi
    # The Kubernetes preStop hook runs sleep.
    docker run --rm --network none --entrypoint /bin/sh "scbridge:$TAG" \
        -c 'command -v sleep >/dev/null' ||
        die "runtime image has no sleep for the preStop hook"
    version=$(docker run --rm --network none "scbridge:$TAG" --version) ||
        die "scbridge --version failed in the image"
    log "runtime image: $version, user $user, HEALTHCHECK on /livez," \
        "no compiler"
}

# ---- the stack --------------------------------------------------------------

free_ports() {
    python3 -c '
import socket
socks = [socket.socket() for _ in range(7)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))'
}

stack_up() {
    # shellcheck disable=SC2046
    set -- $(free_ports)
    export SCB_PORT_WEBHOOKS="$1" SCB_PORT_ADMIN="$2" SCB_PORT_ADMIN_1="$3" \
        SCB_PORT_ADMIN_2="$4" SCB_PORT_REDIS="$5" SCB_PORT_SIM_SC="$6" \
        SCB_PORT_SIM_DDI="$7"
    export SCB_IMAGE_TAG=$TAG SCB_SWAGGER="$SWAGGER" SCB_JOB_LEASE=5s \
        SCB_SIM_RELAY_DROP=0.2 SCB_SIM_RELAY_DUP=0.2
    # What an earlier run left behind, if it was killed.
    compose down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
    STACK_UP=1
    ts=$(date +%s)
    run_logged 300 compose-up docker-compose -p "$PROJECT" \
        -f "$ROOT/docker-compose.yml" --profile sim up -d --no-build
    log "stack up in $(elapsed "$ts")s"
}

main() {
    log "start ($ORDERS orders)"
    [ -f "$SWAGGER" ] || die "Sellercloud Swagger file not found: $SWAGGER"
    SWAGGER=$(cd "$(dirname "$SWAGGER")" && pwd)/$(basename "$SWAGGER")
    need_packages
    start_dockerd
    if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        make_base_image
    else
        log "base image $BASE_IMAGE present"
    fi
    t=$(date +%s)
    build_images
    log "images built in $(elapsed "$t")s"
    check_runtime_image
    stack_up
    t=$(date +%s)
    timeout --kill-after=20 1200 python3 "$ROOT/scripts/container_check.py" \
        --project "$PROJECT" --orders "$ORDERS" ||
        die "the end-to-end check failed"
    log "end-to-end check done in $(elapsed "$t")s"
    RESULT=0
}

main "$@"
