# SPDX-License-Identifier: MIT
"""The DDI gateway simulator keeps the rules of contracts/ddi.md: one test
per rule, against the real sim-ddi binary on loopback."""
import base64
import hashlib
import hmac
import http.server
import json
import socket
import threading
import time

import harness
from sim_ddi import DdiSim, cents, http_json, money, now_rfc3339

AUTH = {"Authorization": "Bearer ddi-key", "X-DDI-Company": "01"}


class Receiver:
    """A webhook receiver on a free port: answers the statuses given in
    turn (the last one from then on) and records every request."""

    def __init__(self, statuses=(202,)):
        self.statuses = list(statuses)
        self.got = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.lock:
                    outer.got.append(({k.lower(): v for k, v in
                                       self.headers.items()}, body))
                    i = min(len(outer.got), len(outer.statuses)) - 1
                    status = outer.statuses[i]
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/webhooks/ddi/ship-confirm" % (
            self.srv.server_port)
        self.thread = threading.Thread(target=self.srv.serve_forever,
                                       daemon=True)
        self.thread.start()

    def requests(self):
        with self.lock:
            return list(self.got)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def verify(headers, body, key=harness.DDI_KEY):
    msg = b"%s.%s.%s" % (headers["webhook-id"].encode(),
                         headers["webhook-timestamp"].encode(), body)
    want = base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest())
    sigs = headers["webhook-signature"].split()
    return any(s.startswith("v1,") and
               hmac.compare_digest(s[3:].encode(), want) for s in sigs)


def new_order(sim, ref="SC-163-5012001", lines=None, **kw):
    body = DdiSim.order_body(ref, lines or [("SKU-001", 2, "10.00")], **kw)
    st, doc = sim.create(body)
    assert st == 201, (st, doc)
    return doc


def codes(doc):
    return sorted(e["code"] for e in doc["errors"])


# -- auth -----------------------------------------------------------------

def test_calls_without_key_or_company_get_401():
    sim = DdiSim()
    for h in ({}, {"Authorization": "Bearer ddi-key"},
              {"X-DDI-Company": "01"},
              {"Authorization": "Bearer wrong", "X-DDI-Company": "01"},
              {"Authorization": "ddi-key", "X-DDI-Company": "01"},
              {"Authorization": "Bearer ddi-key", "X-DDI-Company": "02"}):
        for method, path in (("GET", "/v1/items"), ("GET", "/v1/shipments"),
                             ("GET", "/v1/pos-orders?reference=x"),
                             ("POST", "/v1/pos-orders")):
            st, _, doc = sim.api(method, path, {}, headers=h)
            assert st == 401, (h, path, st)
            assert doc["errors"][0]["code"] == "UNAUTHORIZED"
    st, _, _ = sim.api("GET", "/v1/items", headers=AUTH)
    assert st == 200


# -- create and its validation ------------------------------------------

def test_create_answers_201_with_one_order_shape():
    sim = DdiSim()
    body = DdiSim.order_body("SC-163-1", [("SKU-001", 3, "3.33"),
                                          ("SKU-001", 1, "3.34")],
                             freight="5.00", tax="1.23", discount="0.50")
    st, doc = sim.create(body)
    assert st == 201, doc
    assert doc["order_no"].startswith("SO")
    assert doc["reference"] == "SC-163-1"
    assert doc["status"] == "open"
    assert doc["total"] == "19.06"
    assert doc["deposit"]["amount"] == "19.06"
    assert doc["deposit"]["applied"] == "0.00"
    assert doc["deposit"]["status"] == "held"
    assert doc["shipments"] == []
    assert doc["channel"] == "Amazon" and doc["ship_to"]["city"]
    assert [ln["uom"] for ln in doc["lines"]] == ["EA", "EA"]
    st, again = sim.order(doc["order_no"])
    assert st == 200 and again == doc


def test_malformed_body_is_400():
    sim = DdiSim()
    for raw in (b"not json", b"[1,2]", b""):
        st, _, doc = http_json(
            "POST", sim.base + "/v1/pos-orders", raw, sim.headers())
        assert st == 400, (raw, st)
        assert doc["errors"][0]["code"] == "MALFORMED"


def test_unknown_product_is_422_with_line_no():
    sim = DdiSim()
    body = DdiSim.order_body("SC-163-2", [("SKU-001", 1, "1.00"),
                                          ("NOPE-9", 1, "1.00")])
    st, doc = sim.create(body)
    assert st == 422
    assert doc["errors"] == [{"code": "UNKNOWN_PRODUCT",
                              "field": "lines[1].product_no", "line_no": 2,
                              "message": "no such product"}]
    assert sim.orders() == []


def test_uom_not_allowed_for_the_item_is_422():
    sim = DdiSim()
    sim.seed_items([{"product_no": "CASE-1", "uom": "CS",
                     "uoms": ["CS", "EA"]}])
    ok = DdiSim.order_body("SC-163-3", [("CASE-1", 1, "1.00", "EA")])
    assert sim.create(ok)[0] == 201
    bad = DdiSim.order_body("SC-163-4", [("CASE-1", 1, "1.00", "PK")])
    st, doc = sim.create(bad)
    assert st == 422 and codes(doc) == ["UOM_NOT_ALLOWED"]
    assert doc["errors"][0]["line_no"] == 1


def test_unknown_customer_is_422_until_seeded():
    sim = DdiSim()
    body = DdiSim.order_body("SC-163-5", [("SKU-002", 1, "2.00")],
                             customer="WEB-NEWCHANNEL")
    st, doc = sim.create(body)
    assert st == 422 and codes(doc) == ["CUSTOMER_NOT_FOUND"]
    assert doc["errors"][0]["field"] == "customer.account_no"
    sim.set_customers(["WEB-NEWCHANNEL"])
    assert sim.create(body)[0] == 201


def test_amounts_must_be_strings_with_exactly_two_decimals():
    sim = DdiSim()
    for bad in ("19.9", "19.950", "19", "1,00", "+1.00", " 1.00",
                "12345678901234.00", 19.95, None):
        body = DdiSim.order_body("SC-163-6", [("SKU-001", 1, "19.95")],
                                 deposit="19.95")
        body["lines"][0]["unit_price"] = bad
        st, doc = sim.create(body)
        assert st == 422, bad
        assert "INVALID_AMOUNT" in codes(doc) or \
            "INVALID_FIELD" in codes(doc), (bad, doc)
    body = DdiSim.order_body("SC-163-6", [("SKU-001", 1, "19.95")],
                             freight="0.05", discount="-0.00")
    body["charges"]["tax"] = "0.1"
    st, doc = sim.create(body)
    assert st == 422 and doc["errors"][0]["field"] == "charges.tax"
    body["charges"]["tax"] = "0.00"
    assert sim.create(body)[0] == 201


def test_deposit_must_equal_the_total_in_cents():
    sim = DdiSim()
    lines = [("SKU-001", 2, "3.33"), ("SKU-001", 1, "3.34")]
    total = "%s" % money(2 * 333 + 334 + 500 + 328 - 100)
    good = DdiSim.order_body("SC-163-7", lines, freight="5.00", tax="3.28",
                             discount="1.00")
    assert good["deposit"]["amount"] == total
    for off in (1, -1):
        bad = DdiSim.order_body("SC-163-7", lines, freight="5.00",
                                tax="3.28", discount="1.00",
                                deposit=money(cents(total) + off))
        st, doc = sim.create(bad)
        assert st == 422 and codes(doc) == ["DEPOSIT_MISMATCH"]
        assert doc["errors"][0]["field"] == "deposit.amount"
    assert sim.create(good)[0] == 201


def test_references_are_not_unique_and_idempotency_key_is_ignored():
    sim = DdiSim()
    body = DdiSim.order_body("SC-163-8", [("SKU-003", 1, "4.00")])
    st1, a = sim.create(body, idempotency_key="SC-163-8")
    st2, b = sim.create(body, idempotency_key="SC-163-8")
    assert st1 == st2 == 201
    assert a["order_no"] != b["order_no"]
    found = sim.lookup("SC-163-8")
    assert sorted(o["order_no"] for o in found) == sorted(
        [a["order_no"], b["order_no"]])
    st, _, doc = sim.api("GET", "/v1/pos-orders",
                         params={"reference": "SC-163-8"})
    assert set(doc) == {"items"}
    assert sim.lookup("SC-163-999") == []
    assert len(sim.orders("SC-163-8")) == 2


def test_get_unknown_order_is_404():
    sim = DdiSim()
    st, doc = sim.order("SO999999")
    assert st == 404 and doc["errors"][0]["code"] == "NOT_FOUND"


# -- already shipped ------------------------------------------------------

def test_already_shipped_records_its_shipment_and_sends_no_callback():
    rx = Receiver()
    try:
        sim = DdiSim(callback_url=rx.url)
        shipped = {"ship_date": "2026-12-01", "carrier": "UPS",
                   "service": "Ground", "tracking_nos": ["1ZA", "1ZB"]}
        doc = new_order(sim, "SC-163-9", [("SKU-001", 2, "10.00"),
                                          ("SKU-002", 1, "5.00")],
                        freight="1.00", already_shipped=shipped)
        assert doc["status"] == "complete"
        assert doc["deposit"] == {"amount": "26.00", "applied": "26.00",
                                  "status": "applied", "method": "CHANNEL",
                                  "reference": "PAY-1"}
        (ship,) = doc["shipments"]
        assert ship["complete"] is True
        assert ship["deposit_applied"] == "26.00"
        assert [p["tracking_no"] for p in ship["packages"]] == ["1ZA", "1ZB"]
        assert (ship["carrier"], ship["service"], ship["ship_date"]) == (
            "UPS", "Ground", "2026-12-01")
        assert sorted((ln["line_no"], ln["qty_shipped"])
                      for ln in ship["lines"]) == [(1, 2), (2, 1)]
        st, page = sim.shipments()
        assert [s["shipment_id"] for s in page["items"]] == [
            ship["shipment_id"]]
        time.sleep(0.3)
        sim.wait_idle()
        assert sim.callbacks()["messages"] == [] and rx.requests() == []
        assert sim.cancel(doc["order_no"])[0] == 409
    finally:
        rx.close()


# -- cancel ---------------------------------------------------------------

def test_cancel_reverses_the_deposit_and_repeats_without_change():
    sim = DdiSim()
    doc = new_order(sim, "SC-163-10")
    st, c1 = sim.cancel(doc["order_no"])
    assert st == 200
    assert c1["status"] == "cancelled"
    assert c1["deposit"]["status"] == "reversed"
    st, c2 = sim.cancel(doc["order_no"])
    assert st == 200 and c2 == c1
    led = sim.ledger()
    assert led["totals"]["deposits_reversed"] == 2000
    assert led["totals"]["deposits_held"] == 0
    kinds = [e["kind"] for e in led["entries"]]
    assert kinds == ["deposit_held", "deposit_reversed"]
    assert sim.cancel("SO424242")[0] == 404
    st, _ = sim.ship_confirm(doc["order_no"])
    assert st == 409


def test_cancel_after_a_shipment_is_409():
    sim = DdiSim()
    doc = new_order(sim, "SC-163-11", [("SKU-001", 2, "10.00")])
    st, _ = sim.ship_confirm(doc["order_no"], lines=[{"line_no": 1,
                                                      "qty": 1}])
    assert st == 201
    st, err = sim.cancel(doc["order_no"])
    assert st == 409 and err["errors"][0]["code"] == "ORDER_SHIPPED"
    assert sim.order(doc["order_no"])[1]["status"] == "partially_shipped"


# -- shipments and deposits ---------------------------------------------

def test_partial_shipments_apply_a_proportional_deposit_then_the_rest():
    sim = DdiSim()
    doc = new_order(sim, "SC-163-12", [("SKU-001", 2, "10.00"),
                                       ("SKU-002", 1, "5.01")],
                    freight="4.99", tax="1.00")
    no = doc["order_no"]
    assert doc["total"] == "31.00"
    st, r1 = sim.ship_confirm(no, lines=[{"line_no": 1, "qty": 1}],
                              packages=[{"tracking_no": "1Z1",
                                         "weight_lb": "2.0"},
                                        {"tracking_no": "1Z2"}],
                              carrier="FedEx", service="Home",
                              ship_date="2026-12-02")
    assert st == 201
    s1 = r1["shipment"]
    # floor(3100 * 1000 / 2501) = 1239
    assert s1["deposit_applied"] == "12.39" and s1["complete"] is False
    assert [p["tracking_no"] for p in s1["packages"]] == ["1Z1", "1Z2"]
    assert (s1["carrier"], s1["service"], s1["ship_date"]) == (
        "FedEx", "Home", "2026-12-02")
    o = sim.order(no)[1]
    assert o["status"] == "partially_shipped"
    assert o["deposit"]["status"] == "partially_applied"
    assert o["deposit"]["applied"] == "12.39"
    s2 = sim.ship_confirm(no, lines=[{"line_no": 1, "qty": 1}])[1]
    assert s2["shipment"]["deposit_applied"] == "12.39"
    assert sim.ship_confirm(no, lines=[{"line_no": 1, "qty": 1}])[0] == 400
    s3 = sim.ship_confirm(no)[1]["shipment"]
    assert s3["complete"] is True
    assert s3["deposit_applied"] == "6.22"
    assert s3["lines"] == [{"line_no": 2, "product_no": "SKU-002",
                            "qty_shipped": 1}]
    o = sim.order(no)[1]
    assert o["status"] == "complete" and o["deposit"]["status"] == "applied"
    assert o["deposit"]["applied"] == "31.00"
    assert [s["shipment_id"] for s in o["shipments"]] == [
        s1["shipment_id"], s2["shipment"]["shipment_id"],
        s3["shipment_id"]]
    assert o["shipments"][0] == s1
    assert len({s["shipment_id"] for s in o["shipments"]}) == 3
    assert sim.ship_confirm(no)[0] == 409


def test_ledger_holds_and_applies_deposits_without_cash_receipts():
    sim = DdiSim()
    a = new_order(sim, "SC-163-13", [("SKU-001", 1, "10.00")])
    b = new_order(sim, "SC-163-14", [("SKU-001", 3, "1.00")])
    c = new_order(sim, "SC-163-15", [("SKU-002", 1, "7.00")])
    sim.ship_confirm(a["order_no"])
    sim.ship_confirm(b["order_no"], lines=[{"line_no": 1, "qty": 1}])
    sim.cancel(c["order_no"])
    led = sim.ledger()
    assert led["totals"] == {"deposits_held": 200, "deposits_applied": 1100,
                             "deposits_reversed": 700, "cash_receipts": 0,
                             "receivables": 0}
    per = {o["order_no"]: o for o in led["orders"]}
    assert per[b["order_no"]]["held"] == 200
    assert per[b["order_no"]]["applied"] == 100


def test_counter_order_with_a_foreign_reference_ships_with_a_callback():
    rx = Receiver()
    try:
        sim = DdiSim(callback_url=rx.url)
        body = DdiSim.order_body("PHONE-778", [("SKU-004", 1, "3.00")])
        st, doc = sim.counter_order(body)
        assert st == 201 and doc["reference"] == "PHONE-778"
        sim.ship_confirm(reference="PHONE-778")
        sim.wait_idle()
        (req,) = rx.requests()
        assert json.loads(req[1])["reference"] == "PHONE-778"
    finally:
        rx.close()


# -- lists and cursors ----------------------------------------------------

def ship_n(sim, n, ref="SC-163-20"):
    doc = new_order(sim, ref, [("SKU-001", n, "1.00")])
    out = []
    for _ in range(n):
        st, r = sim.ship_confirm(doc["order_no"],
                                 lines=[{"line_no": 1, "qty": 1}])
        assert st == 201
        out.append(r["shipment"]["shipment_id"])
    return out


def test_shipment_list_pages_in_commit_order_with_more_and_cursor():
    sim = DdiSim()
    ids = ship_n(sim, 5)
    seen, cursor, mores = [], None, []
    for _ in range(3):
        st, page = sim.shipments(cursor, limit=2)
        assert st == 200 and page["next_cursor"]
        seen += [s["shipment_id"] for s in page["items"]]
        mores.append(page["more"])
        cursor = page["next_cursor"]
    assert seen == ids and mores == [True, True, False]
    st, empty = sim.shipments(cursor)
    assert st == 200 and empty["items"] == [] and not empty["more"]
    assert empty["next_cursor"] == cursor
    later = ship_n(sim, 1, "SC-163-21")
    st, page = sim.shipments(cursor)
    assert [s["shipment_id"] for s in page["items"]] == later
    st, full = sim.shipments()
    assert len(full["items"]) == 6 and full["more"] is False
    times = [(s["confirmed_at"], s["shipment_id"]) for s in full["items"]]
    assert times == sorted(times)


def test_list_refuses_forged_cursor_bad_limit_and_bad_since():
    sim = DdiSim()
    ship_n(sim, 3)
    forged = base64.urlsafe_b64encode(b"shp:2").decode().rstrip("=")
    for params in ({"confirmed_after": forged},
                   {"confirmed_after": "not-a-cursor"},
                   {"confirmed_after": ""}, {"limit": "0"},
                   {"limit": "101"}, {"limit": "ten"}, {"limit": "-1"},
                   {"since": "yesterday"}, {"since": "2026-12-01T10:00:00"},
                   {"since": "2026-12-01"}):
        st, _, doc = sim.api("GET", "/v1/shipments", params=params)
        assert st == 400, params
        assert doc["errors"][0]["code"].startswith("INVALID_"), doc
    assert sim.shipments(limit=100)[0] == 200
    assert sim.shipments(limit=1)[0] == 200
    st, page = sim.shipments(limit=2)
    assert sim.shipments(page["next_cursor"])[0] == 200
    item_cursor = sim.items(limit=1)[1]["next_cursor"]
    assert sim.shipments(item_cursor)[0] == 400
    for lim in ("0", "201"):
        assert sim.items(limit=lim)[0] == 400
    assert sim.items(limit=200)[0] == 200


def test_since_starts_at_the_first_record_at_or_after_it():
    sim = DdiSim()
    first = ship_n(sim, 1, "SC-163-22")
    time.sleep(0.05)
    mid = now_rfc3339()
    time.sleep(0.05)
    second = ship_n(sim, 1, "SC-163-23")
    st, page = sim.shipments(since=mid)
    assert st == 200
    assert [s["shipment_id"] for s in page["items"]] == second
    st, page = sim.shipments(since="2000-01-01T00:00:00+02:00")
    assert [s["shipment_id"] for s in page["items"]] == first + second
    st, future = sim.shipments(since=now_rfc3339(3600))
    assert future["items"] == [] and future["next_cursor"]
    third = ship_n(sim, 1, "SC-163-24")
    st, page = sim.shipments(future["next_cursor"])
    assert [s["shipment_id"] for s in page["items"]] == third


def test_items_one_record_per_warehouse_and_a_change_moves_it_last():
    sim = DdiSim(items=3, warehouses="MAIN,WEST,EAST")
    st, page = sim.items()
    assert st == 200 and page["more"] is False
    recs = page["items"]
    assert len(recs) == 9
    keys = {(r["product_no"], r["warehouse"]) for r in recs}
    assert len(keys) == 9
    for r in recs:
        assert set(r) == {"product_no", "warehouse", "description",
                          "product_type", "image_url", "web_description",
                          "mfg_product_no", "upc", "uom", "price",
                          "available_qty", "active", "web", "updated_at"}
    stamps = [r["updated_at"] for r in recs]
    assert stamps == sorted(stamps)
    cursor = page["next_cursor"]
    sim.seed_items([{"product_no": "SKU-001", "warehouse": "WEST",
                     "available_qty": -4}])
    st, page = sim.items(cursor)
    (changed,) = page["items"]
    assert (changed["product_no"], changed["warehouse"]) == ("SKU-001",
                                                             "WEST")
    assert changed["available_qty"] == -4
    assert changed["updated_at"] > max(stamps)
    st, full = sim.items()
    assert len(full["items"]) == 9
    assert full["items"][-1] == changed
    st, p1 = sim.items(limit=4)
    st, p2 = sim.items(p1["next_cursor"], limit=4)
    st, p3 = sim.items(p2["next_cursor"], limit=4)
    assert (p1["more"], p2["more"], p3["more"]) == (True, True, False)
    assert p1["items"] + p2["items"] + p3["items"] == full["items"]


def test_items_cursor_refuses_forgery_and_since_filters():
    sim = DdiSim(items=2)
    forged = base64.urlsafe_b64encode(b"itm:1").decode().rstrip("=")
    assert sim.items(forged)[0] == 400
    mark = now_rfc3339()
    time.sleep(0.05)
    sim.seed_items([{"product_no": "NEW-1", "warehouse": "MAIN",
                     "price": "9.5"}])
    st, page = sim.items(since=mark)
    assert [r["product_no"] for r in page["items"]] == ["NEW-1"]
    assert page["items"][0]["price"] == "9.50"


# -- webhooks -------------------------------------------------------------

def test_ship_confirm_callback_is_signed_standard_webhooks():
    rx = Receiver()
    try:
        sim = DdiSim(callback_url=rx.url)
        doc = new_order(sim, "SC-163-30")
        rec = sim.ship_confirm(doc["order_no"])[1]["shipment"]
        sim.wait_idle()
        (req,) = rx.requests()
        headers, body = req
        assert verify(headers, body)
        assert not verify(headers, body, key=harness.SC_KEY)
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
        assert json.loads(body) == rec
        assert headers["content-type"] == "application/json"
        (att,) = sim.callbacks()["attempts"]
        assert att["status"] == 202 and att["delivered"]
        assert att["shipment_id"] == rec["shipment_id"]
    finally:
        rx.close()


def test_callback_is_retried_with_the_same_id_after_a_503():
    rx = Receiver(statuses=(503, 503, 202))
    try:
        sim = DdiSim(callback_url=rx.url, retry_first_ms=100)
        doc = new_order(sim, "SC-163-31")
        sim.ship_confirm(doc["order_no"])
        sim.wait_idle()
        got = rx.requests()
        assert len(got) == 3
        assert len({h["webhook-id"] for h, _ in got}) == 1
        assert all(verify(h, b) for h, b in got)
        atts = sim.callbacks()["attempts"]
        assert [(a["attempt"], a["status"]) for a in atts] == [
            (1, 503), (2, 503), (3, 202)]
        assert atts[-1]["delivered"] and atts[-1]["final"]
    finally:
        rx.close()


def test_callback_gives_up_after_the_last_attempt():
    rx = Receiver(statuses=(500,))
    try:
        sim = DdiSim(callback_url=rx.url, retry_max=3, retry_first_ms=50)
        doc = new_order(sim, "SC-163-32")
        sim.ship_confirm(doc["order_no"])
        sim.wait_idle()
        assert len(rx.requests()) == 3
        last = sim.callbacks()["attempts"][-1]
        assert last["final"] and not last["delivered"]
    finally:
        rx.close()


def test_drop_share_drops_and_dup_share_duplicates_callbacks():
    rx = Receiver()
    try:
        sim = DdiSim(callback_url=rx.url, drop_rate=1.0)
        doc = new_order(sim, "SC-163-33", [("SKU-001", 4, "1.00")])
        for _ in range(4):
            sim.ship_confirm(doc["order_no"], lines=[{"line_no": 1,
                                                      "qty": 1}])
        sim.wait_idle()
        assert rx.requests() == []
        atts = sim.callbacks()["attempts"]
        assert len(atts) == 4 and all(a["dropped"] for a in atts)
        sim.config(drop_rate=0.5)
        doc = new_order(sim, "SC-163-34", [("SKU-001", 20, "1.00")])
        for _ in range(20):
            sim.ship_confirm(doc["order_no"], lines=[{"line_no": 1,
                                                      "qty": 1}])
        sim.wait_idle()
        dropped = [a for a in sim.callbacks()["attempts"] if a["dropped"]]
        assert 4 < len(dropped) - 4 < 16
        assert len(rx.requests()) == 20 - (len(dropped) - 4)
        sim.config(drop_rate=0.0, dup_rate=1.0)
        doc = new_order(sim, "SC-163-35")
        before = len(rx.requests())
        sim.ship_confirm(doc["order_no"])
        sim.wait_idle()
        dups = rx.requests()[before:]
        assert len(dups) == 2
        assert dups[0][0]["webhook-id"] == dups[1][0]["webhook-id"]
        assert dups[0][1] == dups[1][1]
    finally:
        rx.close()


def test_items_webhook_names_the_changed_products():
    rx = Receiver()
    try:
        sim = DdiSim(items_url=rx.url)
        sim.seed_items([{"product_no": "SKU-001", "available_qty": 3},
                        {"product_no": "SKU-002", "web": False}])
        sim.wait_idle()
        (req,) = rx.requests()
        assert verify(*req)
        assert json.loads(req[1]) == {"type": "items.changed",
                                      "product_nos": ["SKU-001", "SKU-002"]}
    finally:
        rx.close()


# -- slow gateway and outcome unknown ----------------------------------

def test_commit_delay_hides_the_order_until_it_commits():
    sim = DdiSim(commit_delay_ms=1500)
    body = DdiSim.order_body("SC-163-40", [("SKU-001", 1, "1.00")])
    started = time.monotonic()
    try:
        sim.create(body, timeout=0.4)
        raise AssertionError("the create answered inside its commit delay")
    except socket.timeout:
        pass
    assert sim.lookup("SC-163-40") == []
    assert sim.state()["committing"] == 1
    harness.wait_for(lambda: sim.lookup("SC-163-40"), timeout=5,
                     what="the order to commit")
    assert time.monotonic() - started >= 1.4
    sim.config(commit_delay_ms=0)
    assert sim.create(body)[0] == 201


def test_create_then_timeout_commits_but_never_answers():
    sim = DdiSim()
    sim.create_fault("timeout", count=1)
    body = DdiSim.order_body("SC-163-41", [("SKU-001", 1, "1.00")])
    try:
        sim.create(body, timeout=1.0)
        raise AssertionError("a create under the timeout fault answered")
    except socket.timeout:
        pass
    assert len(sim.lookup("SC-163-41")) == 1
    assert sim.create(body)[0] == 201
    assert len(sim.lookup("SC-163-41")) == 2


def test_create_then_error_commits_and_answers_500():
    sim = DdiSim()
    sim.create_fault("error", count=1)
    body = DdiSim.order_body("SC-163-42", [("SKU-001", 1, "1.00")])
    st, doc = sim.create(body)
    assert st == 500 and doc["errors"][0]["code"] == "INTERNAL"
    assert len(sim.lookup("SC-163-42")) == 1


def test_http_faults_come_from_simhttp():
    sim = DdiSim()
    sim.faults([{"path_prefix": "/v1/items", "error_rate": 1.0,
                 "error_status": 503, "retry_after_s": 2}])
    st, hdrs, _ = sim.api("GET", "/v1/items")
    assert st == 503 and hdrs.get("retry-after") == "2"
    sim.faults([])
    assert sim.items()[0] == 200


# -- determinism and reset ----------------------------------------------

def test_same_seed_gives_the_same_catalogue_and_ids():
    def snapshot(seed):
        sim = DdiSim(seed=seed, items=5)
        recs = [{k: v for k, v in r.items() if k != "updated_at"}
                for r in sim.all_items()]
        doc = new_order(sim, "SC-163-50")
        rec = sim.ship_confirm(doc["order_no"])[1]["shipment"]
        sim.stop()
        return recs, doc["order_no"], rec["packages"]

    a, b, c = snapshot(7), snapshot(7), snapshot(8)
    assert a == b
    assert a[0] != c[0]


def test_reset_restores_the_startup_state():
    sim = DdiSim(items=2)
    new_order(sim, "SC-163-60")
    sim.seed_items([{"product_no": "X-1"}])
    st = sim.reset()
    assert (st["orders"], st["shipments"], st["items"]) == (0, 0, 4)
    assert sim.ledger()["entries"] == []
    assert sim.reset(items=False)["items"] == 0


def test_stops_cleanly_with_work_in_flight():
    rx = Receiver(statuses=(503,))
    try:
        sim = DdiSim(callback_url=rx.url, items_url=rx.url,
                     retry_first_ms=5000)
        doc = new_order(sim, "SC-163-70", [("SKU-001", 3, "1.00")],
                        already_shipped=None)
        sim.ship_confirm(doc["order_no"], lines=[{"line_no": 1, "qty": 1}])
        sim.seed_items([{"product_no": "SKU-001", "available_qty": 1}])
        sim.items(limit=1)
        sim.shipments(limit=1)
        sim.cancel(new_order(sim, "SC-163-71")["order_no"])
        harness.wait_for(lambda: len(rx.requests()) >= 2, what="attempts")
        assert sim.stop() == 0, sim.proc.log()[-2000:]
        assert "Sanitizer" not in sim.proc.log()
    finally:
        rx.close()
