#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the unit tests (cmocka) and the end-to-end tests (the real binary,
# a throwaway redis-server and the simulators) found under BUILD_DIR, and
# ends with one line "N passed, N failed" over everything it ran.
#
# usage: run-tests.sh BUILD_DIR   (env: SCB_ONLY=unit|e2e, E2E="files")
set -u

bdir=${1:?usage: run-tests.sh BUILD_DIR}
only=${SCB_ONLY:-}
tmp=$(mktemp -d /tmp/scb-test.XXXXXX)
passed=0
failed=0
redis_pid=""

cleanup() {
    if [ -n "$redis_pid" ]; then
        kill "$redis_pid" 2>/dev/null
        wait "$redis_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0));
print(s.getsockname()[1]); s.close()'
}

start_redis() {
    port=$(free_port)
    mkdir -p "$tmp/redis"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$tmp/redis" \
        --save '' --appendonly no --daemonize no \
        >"$tmp/redis.log" 2>&1 &
    redis_pid=$!
    i=0
    until redis-cli -p "$port" ping >/dev/null 2>&1; do
        i=$((i + 1))
        if [ "$i" -gt 100 ]; then
            echo "run-tests: redis-server did not start" >&2
            cat "$tmp/redis.log" >&2
            exit 1
        fi
        sleep 0.05
    done
    SCB_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
    export SCB_TEST_REDIS_URL
}

run_unit() {
    for t in "$bdir"/unit/test_*; do
        [ -x "$t" ] || continue
        name=$(basename "$t")
        redis-cli -u "$SCB_TEST_REDIS_URL" flushall >/dev/null 2>&1
        ASAN_OPTIONS=detect_leaks=1 "$t" >"$tmp/$name.out" 2>&1
        rc=$?
        # A binary may run several groups: add up every group's counts.
        p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' \
            "$tmp/$name.out" | awk '{ n += $1 } END { print n + 0 }')
        f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' \
            "$tmp/$name.out" | awk '{ n += $1 } END { print n + 0 }')
        p=${p:-0}
        f=${f:-0}
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            f=1 # crashed, leaked or exited early: count it
        fi
        if [ "$f" -ne 0 ]; then
            cat "$tmp/$name.out"
        fi
        echo "unit $name: $p passed, $f failed"
        passed=$((passed + p))
        failed=$((failed + f))
    done
}

run_e2e() {
    out="$tmp/e2e.out"
    SCB_BUILD_DIR="$bdir" python3 tests/e2e/runner.py ${E2E:-} | tee "$out"
    p=$(sed -n 's/^e2e total: \([0-9]*\) passed.*/\1/p' "$out" | tail -n 1)
    f=$(sed -n 's/^e2e total: [0-9]* passed, \([0-9]*\) failed.*/\1/p' \
        "$out" | tail -n 1)
    if [ -z "$p" ]; then
        p=0
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}

start_redis
[ "$only" = "e2e" ] || run_unit
[ "$only" = "unit" ] || run_e2e

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
