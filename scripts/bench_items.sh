#!/bin/sh
# SPDX-License-Identifier: MIT
# bench_items: the SKU sync of the real scbridge binary (job_items.c,
# item_poll.c, item_sync.c) against its baseline on the same machine, the
# same simulators and a throwaway redis-server. Every figure is the median
# of 3 runs, printed with the command that produced it.
#
# usage: bench_items.sh BUILD_DIR   (a MODE=rel build: make MODE=rel build-all)
#
# Measured: a first full sync of N items (catalog read, create, stock,
# basic info, custom columns each), then a poll that finds M of them
# changed (stock and name); items per second over the poll run (from its
# start to its report: last_run_at and last_ok_at in the poll's hash),
# Sellercloud calls per item (the simulator's own count, token calls
# included) and Redis commands per item (INFO commandstats, all commands,
# the service's background ones such as the leader lease included). Each
# run starts scbridge on an empty Redis; the scheduled polls are hours
# apart, so each sync is one poll asked for by a signed DDI item webhook,
# as DDI sends it. The poll writes one item at a time, so the baseline is
# the same Sellercloud client calling the same simulator from one thread
# as fast as it can (sc-probe load), rate limiter included: the sync's
# calls per second over it is the share of the time spent on the sync's
# own bookkeeping.
set -u

bdir=${1:?usage: bench_items.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
scb="$bdir/scbridge"
probe="$bdir/tools/sc-probe"
n=${BENCH_ITEMS:-2000}
m=${BENCH_CHANGED:-200}
runs=3
tmp=$(mktemp -d /tmp/scb-bench-items.XXXXXX)
pids=""

cleanup() {
    for p in $pids; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

for t in "$scb" "$probe" "$bdir/sim-sc" "$bdir/sim-ddi"; do
    if [ ! -x "$t" ]; then
        echo "bench_items: $t is missing (make MODE=rel build-all)" >&2
        exit 1
    fi
done

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0));
print(s.getsockname()[1]); s.close()'
}

# Starts a program in the background; waits for "SIM_PORT=" or a pattern.
start() {
    log=$1
    pattern=$2
    shift 2
    "$@" >"$log" 2>&1 &
    pids="$pids $!"
    last_pid=$!
    waited=0
    until grep -q "$pattern" "$log" 2>/dev/null; do
        waited=$((waited + 1))
        if [ "$waited" -gt 200 ]; then
            echo "bench_items: $1 did not start" >&2
            exit 1
        fi
        sleep 0.05
    done
}

sim_port() {
    sed -n 's/^SIM_PORT=\([0-9]*\)$/\1/p' "$1" | head -n 1
}

rcli() {
    redis-cli -p "$rport" "$@" | tr -d '\r'
}

median() {
    sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

ms_now() {
    python3 -c 'import time; print(int(time.time() * 1000))'
}

# "<all commands> <scripts>" since the last CONFIG RESETSTAT, less the
# reading ones: every command, those scripts ran inside Redis included,
# and the scripts (EVALSHA, EVAL) among the client's round trips.
redis_calls() {
    rcli info commandstats | awk -F'[:=,]' '
        /^cmdstat_/ {
            name = substr($1, 9)
            if (name == "info" || name == "config|resetstat") next
            all += $3
            if (name == "evalsha" || name == "eval") lua += $3
        }
        END { print all + 0, lua + 0 }'
}

sc_calls() {
    curl -s "http://127.0.0.1:$scport/_sim/counters" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["calls_total"])'
}

# Seeds items FIRST..LAST-1 into sim-ddi; SUFFIX marks a changed version.
seed() {
    python3 - "$ddiport" "$1" "$2" "$3" <<'EOF'
import json, sys, urllib.request
port, first, last, suffix = sys.argv[1], int(sys.argv[2]), \
    int(sys.argv[3]), sys.argv[4]
def upc(i):
    body = "%011d" % i
    s = sum((3 if k % 2 == 0 else 1) * int(d)
            for k, d in enumerate(reversed(body)))
    return body + str((10 - s % 10) % 10)
items = [{"product_no": "SKU-%06d" % i, "warehouse": "MAIN",
          "description": "Item %d%s" % (i, suffix), "product_type": "Widget",
          "image_url": "https://img.example.com/%d.jpg" % i,
          "web_description": "Web text %d" % i, "mfg_product_no": "M-%d" % i,
          "upc": upc(10000 + i), "uom": "EA", "price": "9.99",
          "available_qty": (i % 200) + (7 if suffix else 0),
          "active": True, "web": True} for i in range(first, last)]
for at in range(0, len(items), 500):
    req = urllib.request.Request(
        "http://127.0.0.1:%s/_sim/items" % port,
        json.dumps({"items": items[at:at + 500], "notify": False}).encode(),
        {"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
EOF
}

# POST /webhooks/ddi/items for one product, signed as DDI signs it: the
# service asks for a poll at once.
hint() {
    python3 - "$scbport" "$SCBRIDGE_WEBHOOK_SECRET_DDI" "$1" <<'EOF'
import base64, hashlib, hmac, json, sys, time, urllib.request
port, secret, pno = sys.argv[1], sys.argv[2], sys.argv[3]
body = json.dumps({"type": "items.changed", "product_nos": [pno]}).encode()
msg_id, ts = "bench-%d" % time.monotonic_ns(), int(time.time())
mac = hmac.new(base64.b64decode(secret),
               b"%s.%d.%s" % (msg_id.encode(), ts, body), hashlib.sha256)
req = urllib.request.Request(
    "http://127.0.0.1:%s/webhooks/ddi/items" % port, body,
    {"Content-Type": "application/json", "webhook-id": msg_id,
     "webhook-timestamp": str(ts),
     "webhook-signature": "v1," + base64.b64encode(mac.digest()).decode()})
urllib.request.urlopen(req).read()
EOF
}

poll_field() {
    rcli hget scb:v1:poll:items:default "$1"
}

# Asks for a poll and waits for its report; prints "start end" (Unix ms).
sync_items() {
    t=$(ms_now)
    hint SKU-000000 || exit 1
    while :; do
        a=$(poll_field last_run_at)
        b=$(poll_field last_ok_at)
        if [ "${a:-0}" -ge "$t" ] && [ "${b:-0}" -ge "${a:-0}" ]; then
            break
        fi
        sleep 0.02
    done
    echo "$a $b"
}

# One run: "items/s sc/item redis/item chg/s sc/chg scripts/item".
one_run() {
    rcli flushall >/dev/null
    curl -s -X POST "http://127.0.0.1:$scport/_sim/reset" >/dev/null
    curl -s -X POST -H 'Content-Type: application/json' -d '{"items":true}' \
        "http://127.0.0.1:$ddiport/_sim/reset" >/dev/null
    start "$tmp/scbridge.log" '"msg":"started"' "$scb"
    spid=$last_pid
    # The first poll, when the scheduler takes the lead, finds no item.
    until [ -n "$(poll_field full_sync_at)" ]; do
        sleep 0.02
    done
    seed 0 "$n" ""
    rcli config resetstat >/dev/null
    c0=$(sc_calls)
    set -- $(sync_items)
    t0=$1
    t1=$2
    c1=$(sc_calls)
    set -- $(redis_calls)
    r1=$1
    l1=$2
    seed 0 "$m" " v2"
    set -- $(sync_items)
    t2=$1
    t3=$2
    c2=$(sc_calls)
    kill "$spid"
    wait "$spid" 2>/dev/null
    awk -v n="$n" -v m="$m" -v t0="$t0" -v t1="$t1" -v t2="$t2" \
        -v t3="$t3" -v c0="$c0" -v c1="$c1" -v c2="$c2" -v r1="$r1" \
        -v l1="$l1" 'BEGIN { printf "%.0f %.2f %.2f %.0f %.2f %.2f\n",
                 n * 1000 / (t1 - t0), (c1 - c0) / n, r1 / n,
                 m * 1000 / (t3 - t2), (c2 - c1) / m, l1 / n }'
}

bench_items() {
    rport=$(free_port)
    redis-server --port "$rport" --bind 127.0.0.1 --dir "$tmp" --save '' \
        --appendonly no >"$tmp/redis.log" 2>&1 &
    pids="$pids $!"
    until redis-cli -p "$rport" ping >/dev/null 2>&1; do
        sleep 0.05
    done
    start "$tmp/sc.log" SIM_PORT= "$bdir/sim-sc" --port 0 \
        --swagger "$root/../shared/contracts/sellercloud-swagger-2022.json" \
        --rate-budget 100000000 --companies 163
    scport=$(sim_port "$tmp/sc.log")
    start "$tmp/ddi.log" SIM_PORT= "$bdir/sim-ddi" --port 0 --items 0 \
        --api-key ddi-key --company 01 --warehouses MAIN,WEST
    ddiport=$(sim_port "$tmp/ddi.log")
    scbport=$(free_port)
    export SCBRIDGE_LISTEN="127.0.0.1:$scbport" SCBRIDGE_REDIS_PREFIX=scb:
    export SCBRIDGE_REDIS_URL="redis://127.0.0.1:$rport/0"
    export SCBRIDGE_ADMIN_TOKEN="bench-admin-token-0123456789abcdef0123"
    export SCBRIDGE_SC_BASE_URL="http://127.0.0.1:$scport/rest"
    export SCBRIDGE_SC_USERNAME=scbridge SCBRIDGE_SC_PASSWORD=sc-password
    export SCBRIDGE_SC_COMPANY_IDS=163 SCBRIDGE_DDI_COMPANY=01
    export SCBRIDGE_DDI_BASE_URL="http://127.0.0.1:$ddiport"
    export SCBRIDGE_DDI_API_KEY=ddi-key
    export SCBRIDGE_WEBHOOK_SECRET_SC=c2NicmlkZ2UtYmVuY2g=
    export SCBRIDGE_WEBHOOK_SECRET_DDI=c2NicmlkZ2UtYmVuY2g=
    export SCBRIDGE_SC_RATE_PER_HOUR=1000000 SCBRIDGE_WORKERS=4
    export SCBRIDGE_LOG_LEVEL=info SCBRIDGE_POLL_ITEMS=24h
    export SCBRIDGE_POLL_ORDERS=default=24h SCBRIDGE_POLL_SHIPMENTS=24h
    export SCBRIDGE_IMPORT_SINCE=2020-01-01T00:00:00Z

    echo "bench_items: $n items, then $m changed; median of $runs runs;" \
        "SCBRIDGE_SC_RATE_PER_HOUR=1000000 (burst 20000: no throttling)"
    echo "  command: $scb; a signed POST /webhooks/ddi/items asks for each" \
        "poll (full sync, then a poll after $m items changed)"
    : >"$tmp/sync"
    i=0
    while [ "$i" -lt "$runs" ]; do
        one_run >>"$tmp/sync"
        i=$((i + 1))
    done
    col() { cut -d' ' -f"$1" "$tmp/sync" | median; }
    printf '  full sync  %8s items/s  %5s SC calls/item  %6s Redis' \
        "$(col 1)" "$(col 2)" "$(col 3)"
    printf ' commands/item (%s of them scripts)\n' "$(col 6)"
    printf '  changed    %8s items/s  %5s SC calls/item\n' "$(col 4)" \
        "$(col 5)"

    oid=$(curl -s -X POST -H 'Content-Type: application/json' \
        -d '{"orders":[{"Items":[{"ProductID":"SKU-000001","Qty":1,
        "LineTotal":1.0,"DisplayName":"x"}]}],"notify":false}' \
        "http://127.0.0.1:$scport/_sim/orders" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["ids"][0])')
    echo "  baseline: $probe load 5 1 163 $oid  (one thread of raw calls)"
    : >"$tmp/base"
    i=0
    while [ "$i" -lt "$runs" ]; do
        rcli flushall >/dev/null
        "$probe" load 5 1 163 "$oid" 2>/dev/null | tail -n 1 |
            python3 -c 'import json, sys
print(json.load(sys.stdin)["calls"] / 5)' >>"$tmp/base"
        i=$((i + 1))
    done
    base=$(median <"$tmp/base")
    sync_rate=$(awk -v a="$(col 1)" -v b="$(col 2)" 'BEGIN { print a * b }')
    echo "  baseline   $base Sellercloud calls/s; full sync $sync_rate" \
        "calls/s" "($(awk -v s="$sync_rate" -v b="$base" \
        'BEGIN { if (b > 0) printf "%.2f", s / b }') of the baseline)"
}

bench_items
