#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs every Debian package that scbridge's build, tests, benchmarks and
# demo need. Used by the Makefile (on a machine that lacks them) and by the
# Dockerfile (build stage: --build; runtime stage: --runtime).
set -eu

BUILD="build-essential pkg-config libmicrohttpd-dev libcurl4-openssl-dev
libcjson-dev libhiredis-dev libssl-dev"
TEST="libcmocka-dev redis-server python3 curl clang-format cppcheck
prometheus yamllint chromium"
RUNTIME="libmicrohttpd12 libcurl4 libcjson1 libhiredis0.14 libssl3
ca-certificates tini curl"

case "${1:-all}" in
--build) pkgs="$BUILD" ;;
--runtime) pkgs="$RUNTIME" ;;
--test) pkgs="$BUILD $TEST" ;;
all | --all) pkgs="$BUILD $TEST" ;;
*) echo "usage: $0 [--build|--runtime|--test]" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"
    then
        missing="$missing $p"
    fi
done
# The browser test drives Chromium with playwright-core from npm: Debian's
# nodejs and npm, unless a Node.js with npm is already on the machine.
case "$pkgs" in
*chromium*)
    if ! command -v npm >/dev/null 2>&1; then
        missing="$missing nodejs npm"
    fi
    ;;
esac
[ -z "$missing" ] && exit 0

echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
