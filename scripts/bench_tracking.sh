#!/bin/sh
# SPDX-License-Identifier: MIT
# Latency of the tracking push: from DDI's ship-confirm callback (the
# moment the service answered it) to the Sellercloud simulator handling
# the PUT /api/Orders/ShippingStatus of that order, over a few hundred
# imported orders, each ship-confirmed once (complete) at a steady pace.
#
# usage: sh scripts/bench_tracking.sh [BUILD]   (BUILD: build/rel)
# Knobs (environment): BENCH_ORDERS (300), BENCH_RATE (shipments a
# second, 20), BENCH_SC_LATENCY_MS and BENCH_DDI_LATENCY_MS (added by the
# simulators to every API request, 20 each), BENCH_WORKERS (4).
# Builds nothing: run `make MODE=rel build-all` first. Loopback only; the
# run is bounded (the orders, then at most 120 s of waiting).
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-build/rel}
[ -x "$BUILD/scbridge" ] || { echo "bench_tracking: no $BUILD/scbridge" >&2;
                              exit 2; }
SCB_BUILD_DIR=$BUILD
export SCB_BUILD_DIR
exec python3 - "$0 $*" <<'EOF'
import os
import sys
import time

sys.path.insert(0, os.path.join(os.getcwd(), "tests", "e2e"))
import harness  # noqa: E402
from harness import Redis, Service, base_env, free_port, wait_for  # noqa
from sim_ddi import DdiSim  # noqa: E402
from sim_sc import ScSim  # noqa: E402

P = "scb:v1:"
N = int(os.environ.get("BENCH_ORDERS", "300"))
RATE = float(os.environ.get("BENCH_RATE", "20"))
SC_MS = int(os.environ.get("BENCH_SC_LATENCY_MS", "20"))
DDI_MS = int(os.environ.get("BENCH_DDI_LATENCY_MS", "20"))
WORKERS = os.environ.get("BENCH_WORKERS", "4")


def ms_of(text):
    """Unix ms of 'YYYY-MM-DDTHH:MM:SS.mmm' (UTC, a Z or not)."""
    t = text.rstrip("Z")
    secs = time.mktime(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S"))
    return int(secs - time.timezone) * 1000 + int(t[20:23] or 0)


def pct(sorted_ms, p):
    k = max(0, min(len(sorted_ms) - 1, int(round(p / 100 * len(sorted_ms)
                                                  + 0.5)) - 1))
    return sorted_ms[k]


def main():
    redis = Redis()
    port = free_port()
    base = "http://127.0.0.1:%d" % port
    ddi = DdiSim(callback_url=base + "/webhooks/ddi/ship-confirm")
    sc = ScSim(relay_url=base + "/webhooks/sellercloud",
               relay_secret=harness.SC_SECRET, companies=[163])
    env = base_env(redis.url, sc_url=sc.rest, ddi_url=ddi.base, port=port,
                   extra={"SCBRIDGE_POLL_SHIPMENTS": "1h",
                          "SCBRIDGE_IMPORT_SINCE": "2020-01-01T00:00:00Z",
                          "SCBRIDGE_SC_RATE_PER_HOUR": "1000000",
                          "SCBRIDGE_WORKERS": WORKERS,
                          "SCBRIDGE_LOG_LEVEL": "warn"})
    Service(env)
    ids = sc.generate(N, companies=[163], charged_share=1,
                      inprocess_share=1, shipped_share=0, broken_share=0,
                      skus=["SKU-001", "SKU-002", "SKU-003"])

    def imported():
        nos = {}
        for oid in ids:
            h = redis.cmd("HMGET", P + "order:%d" % oid, "state", "exported",
                          "ddi_order_no")
            if h[0] != "imported" or h[1] != "1":
                return None
            nos[oid] = h[2]
        return nos
    nos = wait_for(imported, timeout=120, step=0.5, what="imports")
    # The latency is added only now: the imports are not measured.
    sc.faults([{"path_prefix": "/rest/api/", "latency_ms": SC_MS}])
    ddi.faults([{"path_prefix": "/v1/", "latency_ms": DDI_MS}])
    ref_order = {}
    start = time.monotonic()
    for i, oid in enumerate(ids):
        delay = start + i / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        st, doc = ddi.ship_confirm(nos[oid])
        assert st == 201, (st, doc)
        ref_order[doc["shipment"]["shipment_id"]] = oid

    def shipped():
        return all(redis.cmd("HGET", P + "order:%d" % oid, "state") ==
                   "shipped" for oid in ids)
    wait_for(shipped, timeout=120, step=0.5, what="every push")
    answered = {}
    for a in ddi.callbacks()["attempts"]:
        sid = a.get("shipment_id")
        if a["delivered"] and sid in ref_order and sid not in answered:
            answered[sid] = ms_of(a["at"])
    pushed = {}
    for e in sc.requests(limit=20000)["entries"]:
        if e["method"] == "PUT" and e["path"].endswith(
                "/api/Orders/ShippingStatus"):
            oid = int(e["body"].split('"OrderID":')[1].split(",")[0]
                      .split("}")[0])
            pushed.setdefault(oid, ms_of(e["ts"]))
    lat = sorted(pushed[ref_order[sid]] - at for sid, at in answered.items()
                 if ref_order[sid] in pushed)
    assert len(lat) == N, (len(lat), N)
    print("tracking push latency, callback answered -> Sellercloud "
          "ShippingStatus handled:")
    print("  orders %d, one complete shipment each, %.0f callbacks/s, "
          "%s workers" % (N, RATE, WORKERS))
    print("  simulators add %d ms to every Sellercloud request and %d ms "
          "to every DDI request; a push waits on 1 DDI and 2 Sellercloud "
          "requests (the DDI order, the packages, ShippingStatus itself)"
          % (SC_MS, DDI_MS))
    print("  p50 %d ms, p99 %d ms, max %d ms" % (pct(lat, 50), pct(lat, 99),
                                                 lat[-1]))
    print("  command: %s (binaries in %s, BENCH_ORDERS=%d, BENCH_RATE=%g, "
          "BENCH_SC_LATENCY_MS=%d, BENCH_DDI_LATENCY_MS=%d)"
          % (sys.argv[1], os.environ["SCB_BUILD_DIR"], N, RATE, SC_MS,
             DDI_MS))


try:
    main()
finally:
    harness.cleanup_all()
EOF
