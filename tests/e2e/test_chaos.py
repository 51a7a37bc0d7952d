# SPDX-License-Identifier: MIT
"""Chaos: the whole flow through upstream faults, killed replicas and a
Redis restart.

Orders go from Sellercloud to DDI and their tracking comes back while
both simulators answer a share of requests with 5xx, 503 + Retry-After,
dropped connections and timeouts, the relay loses a fifth of its
notifications, replicas are killed with SIGKILL and Redis is restarted.
In the end every Charged order exists once in DDI and is FullyShipped in
Sellercloud with exactly its tracking number.

`make test` runs the short version (200 orders, two rounds of chaos);
`make chaos` (SCB_CHAOS=long) the long one (2,000 orders, eight rounds).
"""
import os
import random
import signal
import time

import harness
from test_import import (CHANNELS, COMPANY, SKUS, Stack, check_final,
                         order_state, settle_all)

LONG = os.environ.get("SCB_CHAOS") == "long"
ORDERS = 2000 if LONG else 200
ROUNDS = 8 if LONG else 2

SC_FAULTS = [{"path_prefix": "/rest/api/", "error_rate": 0.04,
              "error_status": 503, "retry_after_s": 1,
              "drop_rate": 0.02, "timeout_rate": 0.01}]
DDI_FAULTS = [{"path_prefix": "/v1/", "error_rate": 0.05,
               "error_status": 500, "drop_rate": 0.02,
               "timeout_rate": 0.01}]


def sc_tracking(sc_order):
    """Every tracking number Sellercloud holds: packages, then notes."""
    out = [p["TrackingNumber"] for p in sc_order.get("Packages", [])
           if p.get("TrackingNumber")]
    for n in sc_order.get("Notes", []):
        if n["Message"].startswith("Tracking: "):
            out += n["Message"][len("Tracking: "):].split(", ")
    return out


def ship_everything(stack):
    """Ship-confirms every open scbridge order in DDI; answers them."""
    shipped = {}
    for d in stack.ddi.orders():
        if d["status"] == "open" and d["reference"].startswith("SC-"):
            status, doc = stack.ddi.ship_confirm(order_no=d["order_no"])
            assert status == 201, (status, doc)
            numbers = [p["tracking_no"] for p in doc["shipment"]["packages"]]
            shipped[int(d["reference"].split("-")[2])] = numbers
    return shipped


def chaos_rounds(stack, rnd, replicas, ports):
    for n in range(ROUNDS):
        time.sleep(rnd.uniform(0.5, 2.0))
        i = n % len(replicas)
        replicas[i].proc.signal(signal.SIGKILL)
        replicas[i].proc.wait()
        if n == 0:
            stack.redis.restart()
        replicas[i] = stack.start("scbridge-%d-%d" % (i, n), port=ports[i])


def test_orders_and_tracking_survive_faults_kills_and_a_redis_restart():
    rnd = random.Random(5)
    stack = Stack(relay_drop=0.2, relay_dup=0.1, appendonly=True, extra={
        "SCBRIDGE_JOB_LEASE": "5s", "SCBRIDGE_SC_TIMEOUT": "2s",
        "SCBRIDGE_POLL_SHIPMENTS": "2s", "SCBRIDGE_POLL_ITEMS": "60m",
        "SCBRIDGE_JOB_MAX_ATTEMPTS": "100", "SCBRIDGE_MAX_WAIT": "10m"})
    ports = [stack.port, harness.free_port()]
    replicas = [stack.start("scbridge-0"),
                stack.start("scbridge-1", port=ports[1])]
    stack.sc.faults(SC_FAULTS, seed=3)
    stack.ddi.faults(DDI_FAULTS, seed=4)
    ids = stack.sc.generate(ORDERS, companies=[COMPANY], channels=CHANNELS,
                            skus=SKUS, broken_share=0.0, charged_share=0.9,
                            shipped_share=0.0)
    chaos_rounds(stack, rnd, replicas, ports)
    stack.sc.wait_relay_idle(timeout=120)
    settle_all(stack, ids, timeout=600 if LONG else 240)
    check_final(stack, ids)

    # Ship everything while the faults go on, and kill once more.
    shipped = ship_everything(stack)
    assert shipped, "nothing was imported"
    replicas[0].proc.signal(signal.SIGKILL)
    replicas[0].proc.wait()
    replicas[0] = stack.start("scbridge-0-last", port=ports[0])

    def all_shipped():
        return all((order_state(stack, i) or {}).get("state") == "shipped"
                   for i in shipped)
    harness.wait_for(all_shipped, timeout=600 if LONG else 240, step=1.0,
                     what="every shipped order's tracking in Sellercloud")
    for oid, numbers in shipped.items():
        o = stack.sc.order(oid)
        assert o["ShippingStatus"] == 3, (oid, o["ShippingStatus"])
        assert sc_tracking(o) == numbers, (oid, sc_tracking(o), numbers)
    ledger = stack.ddi.ledger()["totals"]
    assert ledger["cash_receipts"] == 0 and ledger["receivables"] == 0
    print("chaos: %d orders, %d shipped, %d kills, one Redis restart"
          % (len(ids), len(shipped), ROUNDS + 1))
