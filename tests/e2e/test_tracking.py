# SPDX-License-Identifier: MIT
"""Ship confirm -> tracking in Sellercloud (DESIGN.md "Tracking push"):
tracking.push and poll.shipments against the real binary, the Sellercloud
and DDI simulators and a throwaway Redis.

Orders are seeded Charged in the Sellercloud simulator, whose relay
announces them, so the service imports them into the DDI simulator; the
test then ship-confirms them there through its control API, and the DDI
simulator sends the signed callbacks (dropping and repeating some when
told to). What Sellercloud ends up holding is read from its simulator.
"""
import json
import random
import signal
import time

import harness
from harness import Redis, Service, base_env, free_port, wait_for
from sim_ddi import DdiSim
from sim_sc import ScSim

P = "scb:v1:"
SKUS = ["SKU-%03d" % i for i in range(1, 6)]
AMAZON, MAGENTO, WEBSITE = 4, 15, 6


class Stack:
    """Redis, both simulators wired to one scbridge, and the service."""

    def __init__(self, policies="default=complete,Amazon=first",
                 poll="2s", drop=0.0, dup=0.0, seed=7, extra=None):
        self.redis = Redis()
        self.port = free_port()
        base = "http://127.0.0.1:%d" % self.port
        self.ddi = DdiSim(callback_url=base + "/webhooks/ddi/ship-confirm",
                          drop_rate=drop, dup_rate=dup, seed=seed,
                          retry_max=8, retry_first_ms=100,
                          retry_cap_ms=1000, callback_timeout_ms=2000)
        self.sc = ScSim(relay_url=base + "/webhooks/sellercloud",
                        relay_secret=harness.SC_SECRET, companies=[163],
                        seed=seed)
        env = {
            "SCBRIDGE_POLL_SHIPMENTS": poll,
            "SCBRIDGE_IMPORT_SINCE": "2020-01-01T00:00:00Z",
            "SCBRIDGE_PARTIAL_SHIPMENTS": policies,
            "SCBRIDGE_SC_RATE_PER_HOUR": "1000000",
            "SCBRIDGE_SC_TIMEOUT": "3s",
            "SCBRIDGE_DDI_TIMEOUT": "3s",
            "SCBRIDGE_JOB_LEASE": "5s",
            "SCBRIDGE_BACKOFF_BASE": "1s",
            "SCBRIDGE_BACKOFF_CAP": "3s",
            "SCBRIDGE_WORKERS": "4",
        }
        env.update(extra or {})
        self.env = base_env(self.redis.url, sc_url=self.sc.rest,
                            ddi_url=self.ddi.base, port=self.port, extra=env)
        self.runs = 0
        self.svc = None
        self.start()
        # The poll's first run records the first start, which is where
        # an unset SCBRIDGE_SHIPMENTS_SINCE begins: ship only after it.
        wait_for(lambda: self.redis.cmd("HGET", P + "poll:shipments:default",
                                        "last_ok_at"),
                 what="the first shipment poll")

    def start(self):
        self.runs += 1
        self.svc = Service(self.env, name="scbridge-%d" % self.runs)

    def kill(self):
        self.svc.proc.signal(signal.SIGKILL)
        self.svc.proc.wait()

    def order(self, oid):
        """The order's hash in Redis (state, tracking...) as a dict."""
        flat = self.redis.cmd("HGETALL", P + "order:%d" % oid) or []
        return dict(zip(flat[::2], flat[1::2]))

    def history(self, oid):
        return [json.loads(e) for e in
                self.redis.cmd("LRANGE", P + "order:%d:h" % oid, 0, -1)]

    def dead_letters(self):
        out = []
        for sid, fields in self.redis.cmd("XRANGE", P + "jobs:dead", "-",
                                          "+"):
            out.append(dict(zip(fields[::2], fields[1::2]), stream_id=sid))
        return out

    def import_all(self, ids, timeout=60):
        """Waits until every order is imported and marked exported; answers
        {order id: DDI order number}."""
        def done():
            for oid in ids:
                o = self.order(oid)
                if o.get("state") != "imported" or o.get("exported") != "1":
                    return None
            return {oid: self.order(oid)["ddi_order_no"] for oid in ids}
        return wait_for(done, timeout=timeout, step=0.2, what="imports")


def _tracking(stack, oid):
    return json.loads(stack.order(oid).get("tracking") or "[]")


def _note_numbers(sc_order):
    out = []
    for n in sc_order["Notes"]:
        msg = n["Message"]
        assert msg.startswith("Tracking: "), msg
        out.extend(msg[len("Tracking: "):].split(", "))
    return out


def _package_numbers(sc_order):
    return [p.get("TrackingNumber") or "" for p in sc_order["Packages"]]


def _holds_exactly(sc_order, numbers, unsure=()):
    """True when Sellercloud holds 'numbers' (DDI order) as the contract
    says: number k on package k, the rest in notes, each once. Numbers of
    a note the service recorded as unsure ('unsure') may be missing."""
    pk = _package_numbers(sc_order)
    want_pk = numbers[:len(pk)] + [""] * (len(pk) - len(numbers))
    noted = _note_numbers(sc_order)
    rest = numbers[len(pk):]
    return (sc_order["ShippingStatus"] == 3 and pk == want_pk and
            len(noted) == len(set(noted)) and
            noted == [n for n in rest if n in noted or n not in unsure])


UNSURE = "an order note may not have reached Sellercloud; it is not " \
    "sent twice:"


def _unsure_numbers(stack, oid):
    """The numbers of notes whose outcome the service could not know (a
    kill between recording the note and Sellercloud's answer); they are
    in the order's history and never sent twice."""
    out = []
    for h in stack.history(oid):
        if h["event"] == "note" and h["detail"].startswith(UNSURE):
            out.extend(h["detail"][len(UNSURE):].split())
    return out


def _plan(ddi_order, rng, oid):
    """Up to three shipments over the DDI order's lines, each with one to
    three packages; answers [(lines spec, [tracking numbers])]."""
    units = [ln["line_no"] for ln in ddi_order["lines"]
             for _ in range(ln["qty"])]
    k = min(len(units), rng.choice([1, 1, 2, 3]))
    cuts = sorted(rng.sample(range(1, len(units)), k - 1)) if k > 1 else []
    parts, start = [], 0
    for c in cuts + [len(units)]:
        parts.append(units[start:c])
        start = c
    out = []
    for i, part in enumerate(parts):
        spec = {}
        for no in part:
            spec[no] = spec.get(no, 0) + 1
        lines = [{"line_no": no, "qty": q} for no, q in sorted(spec.items())]
        nos = ["1ZT%07d%d%d" % (oid % 10000000, i, j)
               for j in range(rng.choice([1, 1, 2, 3]))]
        out.append((lines, nos))
    return out


def _ship(stack, order_no, lines, nos, callback=True):
    st, doc = stack.ddi.ship_confirm(
        order_no, lines=lines, callback=callback,
        packages=[{"tracking_no": n, "weight_lb": "1.0"} for n in nos])
    assert st == 201, (st, doc)
    return doc["shipment"]


def _many_orders(count, kills):
    """Imports 'count' orders, ship-confirms them in one to three partial
    shipments with callbacks dropped (20%) and repeated, kills the service
    'kills' times meanwhile, and checks what Sellercloud holds."""
    rng = random.Random(11)
    s = Stack(drop=0.2, dup=0.3)
    ids = s.sc.generate(count, companies=[163], charged_share=1,
                        inprocess_share=1, shipped_share=0, broken_share=0,
                        extra_package_share=0.3, skus=SKUS,
                        channels=[AMAZON, MAGENTO, WEBSITE])
    ddi_nos = s.import_all(ids, timeout=30 + count // 5)
    plans = {oid: _plan(s.ddi.order(ddi_nos[oid])[1], rng, oid)
             for oid in ids}
    expected = {oid: [n for _, nos in plans[oid] for n in nos]
                for oid in ids}
    assert any(len(s.sc.order(oid)["Packages"]) > 1 for oid in ids)
    assert any(len(p) == 3 for p in plans.values())
    kill_at = set(rng.sample(range(3 * count), kills))
    step = 0
    for rnd in range(3):
        for oid in ids:
            if rnd < len(plans[oid]):
                lines, nos = plans[oid][rnd]
                _ship(s, ddi_nos[oid], lines, nos)
            if step in kill_at:
                s.kill()
                time.sleep(0.3)
                s.start()
            step += 1

    late = []

    def settled():
        del late[:]
        for oid in ids:
            sc = s.sc.order(oid)
            unsure = _unsure_numbers(s, oid)
            if (not _holds_exactly(sc, expected[oid], unsure) or
                    s.order(oid).get("state") != "shipped"):
                late[:] = [oid, expected[oid], _package_numbers(sc),
                           sc["Notes"], s.order(oid)]
                return None
        return True
    try:
        wait_for(settled, timeout=90 + count // 5, step=1.0,
                 what="every order shipped with its tracking")
    except AssertionError:
        raise AssertionError("not settled: %r" % (late,))
    for oid in ids:
        track = _tracking(s, oid)
        assert [t["number"] for t in track] == expected[oid], oid
        assert all(t["pushed_at"] for t in track), (oid, track)
        events = [h["event"] for h in s.history(oid)]
        assert events.count("shipped") == 1, (oid, events)
    ledger = s.ddi.ledger()
    assert ledger["totals"]["cash_receipts"] == 0
    assert ledger["totals"]["deposits_held"] == 0
    for o in ledger["orders"]:
        assert o["applied"] == o["deposit"] and o["held"] == 0, o
    assert s.sc.breaches()["count"] == 0, s.sc.breaches()
    assert s.dead_letters() == []
    assert s.runs == kills + 1
    # A note is never sent twice, so one in flight when the service was
    # killed may be missing; the history names its numbers. It is rare:
    # the kill must land between recording the note and sending it.
    unsure = [oid for oid in ids if _unsure_numbers(s, oid)]
    assert len(unsure) <= kills, unsure
    # The run did meet what it is named for.
    attempts = s.ddi.callbacks()["attempts"]
    assert any(a["dropped"] for a in attempts)
    assert any(a["delivery"] > 1 for a in attempts)
    assert any(s.sc.order(oid)["Notes"] for oid in ids)
    print("    %d orders, %d shipments, %d callbacks dropped, %d notes, "
          "%d unsure" % (count, sum(len(p) for p in plans.values()),
                         sum(1 for a in attempts if a["dropped"]),
                         sum(len(s.sc.order(oid)["Notes"]) for oid in ids),
                         len(unsure)))


def test_500_orders_ship_once_through_drops_repeats_and_kills():
    _many_orders(500, kills=5)


def _seed_three_line_order(stack, oid, channel, packages):
    items = [{"ProductID": sku, "Qty": 1, "LineTotal": 10.0}
             for sku in SKUS[:3]]
    stack.sc.seed_orders([{"ID": oid, "OrderSource": channel,
                           "Items": items, "Packages": packages}])


def _event(stack, oid, event, text=""):
    return [h for h in stack.history(oid)
            if h["event"] == event and text in h["detail"]]


def test_complete_policy_holds_partials_and_pushes_all_on_completion():
    s = Stack(policies="default=first,Magento=complete", poll="1h",
              extra={"SCBRIDGE_CARRIER_MAP": "UPS|Ground=UPS|UPS Ground"})
    _seed_three_line_order(s, 7101, MAGENTO, packages=2)
    no = s.import_all([7101])[7101]
    _ship(s, no, [{"line_no": 1, "qty": 1}], ["1ZA1"])
    wait_for(lambda: _event(s, 7101, "shipment_received"), what="record")
    time.sleep(1.0)
    sc = s.sc.order(7101)
    assert sc["ShippingStatus"] == 1 and _package_numbers(sc) == ["", ""]
    assert s.order(7101)["state"] == "imported"
    assert [t["pushed_at"] for t in _tracking(s, 7101)] == [None]
    # This callback never comes: completion reads the whole DDI order.
    _ship(s, no, [{"line_no": 2, "qty": 1}], ["1ZA2"], callback=False)
    _ship(s, no, [{"line_no": 3, "qty": 1}], ["1ZA3", "1ZA4"])
    wait_for(lambda: s.order(7101).get("state") == "shipped",
             what="shipped")
    sc = s.sc.order(7101)
    assert _holds_exactly(sc, ["1ZA1", "1ZA2", "1ZA3", "1ZA4"]), sc
    assert len(sc["Notes"]) == 1
    assert [p["CarrierName"] for p in sc["Packages"]] == ["UPS", "UPS"]
    assert [p["ShippingMethod"] for p in sc["Packages"]] == \
        ["UPS Ground", "UPS Ground"]
    assert _event(s, 7101, "shipment_received", "found in DDI order")
    assert len(_event(s, 7101, "tracking_pushed")) == 1
    assert all(t["pushed_at"] for t in _tracking(s, 7101))


def test_first_policy_pushes_each_shipment_into_the_next_package():
    s = Stack(policies="default=complete,Amazon=first", poll="1h")
    _seed_three_line_order(s, 7201, AMAZON, packages=2)
    no = s.import_all([7201])[7201]
    _ship(s, no, [{"line_no": 1, "qty": 1}], ["1ZB1"])
    wait_for(lambda: s.order(7201).get("state") == "shipped",
             what="first shipment pushed")
    sc = s.sc.order(7201)
    assert sc["ShippingStatus"] == 3
    assert _package_numbers(sc) == ["1ZB1", ""] and sc["Notes"] == []
    _ship(s, no, [{"line_no": 2, "qty": 1}], ["1ZB2", "1ZB3"])
    wait_for(lambda: _holds_exactly(s.sc.order(7201),
                                    ["1ZB1", "1ZB2", "1ZB3"]),
             what="second shipment pushed")
    _ship(s, no, [{"line_no": 3, "qty": 1}], ["1ZB4"])
    wait_for(lambda: _holds_exactly(s.sc.order(7201),
                                    ["1ZB1", "1ZB2", "1ZB3", "1ZB4"]),
             what="third shipment pushed")
    sc = s.sc.order(7201)
    assert [n["Message"] for n in sc["Notes"]] == \
        ["Tracking: 1ZB3", "Tracking: 1ZB4"]
    assert len(_event(s, 7201, "tracking_pushed")) == 3
    assert len(_event(s, 7201, "shipped")) == 1


def test_unknown_scbridge_reference_needs_attention_and_is_not_retried():
    s = Stack()
    st, doc = s.ddi.create(DdiSim.order_body("SC-163-999999",
                                             [("SKU-001", 1, "10.00")]))
    assert st == 201, (st, doc)
    ship = _ship(s, doc["order_no"], None, ["1ZU1"])
    wait_for(lambda: s.order(999999).get("state") == "needs_attention",
             what="needs attention")
    o = s.order(999999)
    assert o["reason"].startswith("UNKNOWN_REFERENCE: "), o
    assert o["ddi_order_no"] == doc["order_no"]
    assert [t["number"] for t in _tracking(s, 999999)] == ["1ZU1"]
    time.sleep(5)  # two poll runs and any retry would have happened
    dead = s.dead_letters()
    assert len(dead) == 1, dead
    assert dead[0]["type"] == "tracking.push"
    assert dead[0]["key"] == "shipment:" + ship["shipment_id"]
    assert int(dead[0]["attempts"]) == 1
    assert s.redis.cmd("ZCARD", P + "jobs:delayed") == 0
    assert len(_event(s, 999999, "needs_attention")) == 1
    assert s.sc.requests()["total"] == 0 or all(
        "ShippingStatus" not in e["path"]
        for e in s.sc.requests()["entries"])


def test_foreign_reference_is_ignored_by_callback_and_poll():
    s = Stack()
    st, doc = s.ddi.counter_order(DdiSim.order_body(
        "POS-4711", [("SKU-001", 1, "10.00")]))
    assert st == 201, (st, doc)
    _ship(s, doc["order_no"], None, ["1ZF1"])
    wait_for(lambda: s.svc.metric("scbridge_shipments_ignored_total",
                                  via="webhook") == 1, what="webhook count")
    wait_for(lambda: s.svc.metric("scbridge_shipments_ignored_total",
                                  via="poll") >= 1, timeout=10,
             what="poll count")
    assert s.redis.cmd("KEYS", P + "order:*") == []
    assert s.dead_letters() == []
    assert s.svc.metric("scbridge_reconcile_found_total",
                        kind="shipment") == 0


def test_poll_pushes_a_ship_confirm_whose_callback_never_came():
    s = Stack()
    _seed_three_line_order(s, 7301, AMAZON, packages=1)
    no = s.import_all([7301])[7301]
    _ship(s, no, None, ["1ZP1"], callback=False)
    wait_for(lambda: _holds_exactly(s.sc.order(7301), ["1ZP1"]),
             timeout=15, what="the poll to push it")
    wait_for(lambda: s.order(7301).get("state") == "shipped",
             what="shipped")
    assert s.svc.metric("scbridge_reconcile_found_total",
                        kind="shipment") == 1
    poll = s.redis.cmd("HGETALL", P + "poll:shipments:default")
    poll = dict(zip(poll[::2], poll[1::2]))
    assert poll["cursor"] and poll["last_ok_at"], poll


def test_sellercloud_refusing_the_tracking_needs_attention_until_retried():
    s = Stack(poll="1h")
    _seed_three_line_order(s, 7401, AMAZON, packages=1)
    no = s.import_all([7401])[7401]
    s.sc.faults([{"method": "PUT",
                  "path_prefix": "/rest/api/Orders/ShippingStatus",
                  "error_rate": 1.0, "error_status": 400}])
    _ship(s, no, None, ["1ZR1"])
    wait_for(lambda: s.order(7401).get("state") == "needs_attention",
             what="needs attention")
    reason = s.order(7401)["reason"]
    assert reason.startswith("SC_REJECTED: PUT /api/Orders/ShippingStatus "
                             "answered 400"), reason
    dead = s.dead_letters()
    assert [d["reason"] for d in dead] == [reason]
    s.sc.faults([])
    st, _, doc = s.svc.admin_api(
        "POST", "/admin/api/dead-letters/%s/retry" % dead[0]["stream_id"])
    assert st == 202, (st, doc)
    wait_for(lambda: s.order(7401).get("state") == "shipped",
             what="shipped after the retry")
    assert _holds_exactly(s.sc.order(7401), ["1ZR1"])
    assert s.order(7401)["reason"] == ""
    st, _, doc = s.svc.admin_api("GET", "/admin/api/orders/7401")
    assert st == 200, (st, doc)
    assert [(t["number"], t["carrier"], t["service"])
            for t in doc["tracking"]] == [("1ZR1", "UPS", "Ground")]
    assert doc["tracking"][0]["pushed_at"].endswith("Z")
    assert s.dead_letters() == []
