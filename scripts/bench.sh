#!/bin/sh
# SPDX-License-Identifier: MIT
# Benchmarks, each against a baseline measured beside it on the same
# machine and the same throwaway redis-server. Every figure is the median
# of 3 runs, printed with the command that produced it.
#
# usage: bench.sh BUILD_DIR [PART...]
#   (parts: bench_queue bench_items bench_tracking; default all)
#
# bench_queue: jobs per second through enqueue -> no-op handler -> ack
# with 8 workers (tests/tools/queue-worker bench), and Redis round trips
# per job counted with INFO commandstats: the commands a client sent
# (EVALSHA, XREADGROUP, ...), not those a script ran inside Redis, which
# are shown apart. Baselines: the same pipeline on bare XADD, XREADGROUP
# and XACK (queue-worker baseline), and redis-benchmark of XADD.
set -u

bdir=${1:?usage: bench.sh BUILD_DIR [PART...]}
shift
parts=${*:-bench_queue bench_items bench_tracking}
tool="$bdir/tools/queue-worker"
runs=3
tmp=$(mktemp -d /tmp/scb-bench.XXXXXX)
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
    redis-server --port "$port" --bind 127.0.0.1 --dir "$tmp" --save '' \
        --appendonly no --daemonize no >"$tmp/redis.log" 2>&1 &
    redis_pid=$!
    i=0
    until redis-cli -p "$port" ping >/dev/null 2>&1; do
        i=$((i + 1))
        if [ "$i" -gt 100 ]; then
            echo "bench: redis-server did not start" >&2
            exit 1
        fi
        sleep 0.05
    done
    url="redis://127.0.0.1:$port/0"
}

rcli() {
    redis-cli -p "$port" "$@" | tr -d '\r'
}

# Median of the numbers on stdin, one a line.
median() {
    sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# "<client commands> <all commands>" since the last CONFIG RESETSTAT,
# leaving out the INFO that reads them. A client command is one a script
# cannot have run: the scripting calls, blocking reads and connect steps.
count_calls() {
    rcli info commandstats | awk -F'[:=,]' '
        /^cmdstat_/ {
            name = substr($1, 9); calls = $3
            if (name == "info" || name == "config|resetstat") next
            all += calls
            if (name ~ /^(evalsha|eval|xreadgroup|ping|select|auth|hello)$/ ||
                name ~ /^(client\||config\|get|xgroup\|create|script\|)/)
                top += calls
        }
        END { print top + 0, all + 0 }'
}

# One run of a queue-worker mode; prints "jobs_per_s rt_per_job cmd_per_job".
# Raw commands are all top level, so for the baseline both counts match.
one_run() {
    mode=$1
    n=$2
    rcli flushall >/dev/null
    rcli config resetstat >/dev/null
    out=$("$tool" --redis "$url" --workers 8 "$mode" "$n" 2>/dev/null |
        grep "jobs_per_s=")
    rate=$(echo "$out" | sed 's/.*jobs_per_s=\([0-9.]*\).*/\1/')
    set -- $(count_calls)
    if [ "$mode" = baseline ]; then
        set -- "$2" "$2"
    fi
    awk -v r="${rate:-0}" -v t="$1" -v a="$2" -v n="$n" \
        'BEGIN { printf "%s %.2f %.2f\n", r, t / n, a / n }'
}

report() {
    label=$1
    file=$2
    r=$(cut -d' ' -f1 "$file" | median)
    t=$(cut -d' ' -f2 "$file" | median)
    a=$(cut -d' ' -f3 "$file" | median)
    printf '  %-9s %8s jobs/s  %5s round trips/job  %6s commands/job\n' \
        "$label" "$r" "$t" "$a"
}

bench_queue() {
    n=20000
    if [ ! -x "$tool" ]; then
        echo "bench_queue: $tool is missing (make MODE=rel build-all)" >&2
        return 1
    fi
    ver=$(redis-server --version | sed 's/.* v=\([^ ]*\).*/\1/')
    echo "bench_queue: redis-server $ver, 8 workers, $n jobs a run," \
        "median of $runs runs"
    echo "  command: $tool --redis $url --workers 8 bench $n"
    echo "  baseline: $tool --redis $url --workers 8 baseline $n"
    : >"$tmp/queue"
    : >"$tmp/base"
    i=0
    while [ "$i" -lt "$runs" ]; do
        one_run bench "$n" >>"$tmp/queue"
        one_run baseline "$n" >>"$tmp/base"
        i=$((i + 1))
    done
    report queue "$tmp/queue"
    report baseline "$tmp/base"
    q=$(cut -d' ' -f1 "$tmp/queue" | median)
    b=$(cut -d' ' -f1 "$tmp/base" | median)
    awk -v q="$q" -v b="$b" 'BEGIN {
        if (b > 0) printf "  queue / baseline: %.2f\n", q / b }'
    : >"$tmp/xadd"
    i=0
    while [ "$i" -lt "$runs" ]; do
        rcli flushall >/dev/null
        redis-benchmark -p "$port" -c 8 -n 100000 -q \
            XADD scb:bench:xadd '*' n 0 2>/dev/null | tr '\r' '\n' |
            sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' |
            tail -n 1 >>"$tmp/xadd"
        i=$((i + 1))
    done
    echo "  redis-benchmark -c 8 -n 100000 XADD key '*' n 0:" \
        "$(median <"$tmp/xadd") requests/s (one command, no consumer)"
}

# The other parts start what they need themselves (see their scripts).
bench_items() {
    sh "$(dirname "$0")/bench_items.sh" "$bdir"
}

bench_tracking() {
    if [ -f "$(dirname "$0")/bench_tracking.sh" ]; then
        sh "$(dirname "$0")/bench_tracking.sh" "$bdir"
    fi
}

start_redis
for part in $parts; do
    "$part"
done
