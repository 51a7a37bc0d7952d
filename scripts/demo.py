# SPDX-License-Identifier: MIT
"""The demo: the whole flow against the simulators, then a summary.

Starts a throwaway redis-server, the Sellercloud and DDI simulators and
scbridge, all on loopback ports; seeds orders across four channels
(some unpaid, some with totals that do not add up, a share of the relay
notifications dropped so the poll has work), ship-confirms what reached
DDI, charges a few unpaid orders, cancels a few, and prints what each
side holds. With --keep it stays up until Ctrl-C and prints the URLs.
"""
import collections
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

import harness  # noqa: E402
from sim_ddi import DdiSim  # noqa: E402
from sim_sc import ScSim  # noqa: E402

COMPANY = 163
ORDERS = 300
CHANNELS = [4, 1, 2, 42, 50, 15, 6]  # Amazon, eBay x2, Walmart x2, ...
SKUS = ["SKU-%03d" % i for i in range(1, 21)]


def say(msg):
    print("demo: " + msg, flush=True)


def states(redis, ids):
    count = collections.Counter()
    for i in ids:
        st = redis.cmd("HGET", "scb:v1:order:%d" % i, "state")
        count[st or "unknown"] += 1
    return count


def start(keep):
    redis = harness.Redis(appendonly=True)
    port = harness.free_port()
    base = "http://127.0.0.1:%d" % port
    ddi = DdiSim(callback_url=base + "/webhooks/ddi/ship-confirm",
                 drop_rate=0.1)
    sc = ScSim(companies=[COMPANY], rate_budget=100000,
               relay_url=base + "/webhooks/sellercloud",
               relay_secret=harness.SC_SECRET, relay_drop=0.15,
               broken_share=0.03)
    env = harness.base_env(redis.url, sc_url=sc.rest, ddi_url=ddi.base,
                           port=port, extra={
                               "SCBRIDGE_IMPORT_SINCE":
                                   "2020-01-01T00:00:00Z",
                               "SCBRIDGE_POLL_ORDERS": "default=10s",
                               "SCBRIDGE_POLL_SHIPMENTS": "5s",
                               "SCBRIDGE_POLL_ITEMS": "30s",
                               "SCBRIDGE_POLL_OVERLAP": "0s",
                               "SCBRIDGE_WORKERS": "4",
                               # The real budget (10,800 an hour) would pace
                               # the demo's burst to 3 calls a second.
                               "SCBRIDGE_SC_RATE_PER_HOUR": "100000",
                               "SCBRIDGE_PARTIAL_SHIPMENTS":
                                   "default=complete,Amazon=first",
                           })
    svc = harness.Service(env, name="scbridge")
    say("redis %s, sellercloud sim %s, ddi sim %s, scbridge %s"
        % (redis.url, sc.base, ddi.base, base))
    if keep:
        say("admin page: %s/admin/  (token: %s)"
            % (base, harness.ADMIN_TOKEN))
    return redis, sc, ddi, svc


def flow(redis, sc, ddi):
    ids = sc.generate(ORDERS, companies=[COMPANY], channels=CHANNELS,
                      skus=SKUS, charged_share=0.85, shipped_share=0.03)
    say("seeded %d Sellercloud orders across %d channels"
        % (len(ids), len(CHANNELS)))
    for _ in range(30):
        time.sleep(1)
        c = states(redis, ids)
        say("states: " + ", ".join("%s %d" % kv for kv in sorted(c.items())))
        if c.get("imported", 0) + c.get("shipped", 0) >= 0.75 * ORDERS:
            break
    orders = [sc.order(i) for i in ids]
    unpaid = [o["ID"] for o in orders
              if o["StatusCode"] == 2 and o["PaymentStatus"] != 30]
    for i in unpaid[: len(unpaid) // 2]:
        sc.charge(i)
    say("charged %d orders that were waiting for payment"
        % (len(unpaid) // 2))
    time.sleep(3)
    shipped = 0
    for d in ddi.orders():
        if d["status"] == "open" and d["reference"].startswith("SC-"):
            ddi.ship_confirm(order_no=d["order_no"])
            shipped += 1
    say("ship-confirmed %d DDI orders; tracking flows back" % shipped)
    last, quiet = None, 0
    for _ in range(60):
        time.sleep(1)
        c = states(redis, ids)
        say("states: " + ", ".join("%s %d" % kv for kv in sorted(c.items())))
        quiet = quiet + 1 if c == last else 0
        last = c
        if quiet >= 3:
            break
    return ids


def summary(redis, sc, ddi, ids):
    orders = [sc.order(i) for i in ids]
    sc_ship = collections.Counter(o["ShippingStatus"] for o in orders)
    exported = sum(1 for o in orders if o.get("Exported"))
    dd = ddi.orders()
    ledger = ddi.ledger()["totals"]
    print()
    print("Sellercloud: %d orders, %d marked exported, %d FullyShipped"
          % (len(orders), exported, sc_ship.get(3, 0)))
    print("DDI:         %d POS orders (%s)" % (len(dd), ", ".join(
        "%s %d" % kv for kv in sorted(collections.Counter(
            d["status"] for d in dd).items()))))
    print("DDI ledger:  deposits held %.2f, applied %.2f, reversed %.2f, "
          "cash receipts %.2f" % (ledger["deposits_held"] / 100.0,
                                 ledger["deposits_applied"] / 100.0,
                                 ledger["deposits_reversed"] / 100.0,
                                 ledger["cash_receipts"] / 100.0))
    print("scbridge:    " + ", ".join(
        "%s %d" % kv for kv in sorted(states(redis, ids).items())))


def main(argv):
    keep = "--keep" in argv
    try:
        redis, sc, ddi, _ = start(keep)
        ids = flow(redis, sc, ddi)
        summary(redis, sc, ddi, ids)
        if keep:
            say("running; Ctrl-C stops everything")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        harness.cleanup_all()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
