# SPDX-License-Identifier: MIT
"""The DDI client (service/ddi_client.c) and the order mapping
(service/order_map.c) against the real DDI simulator, through the
ddi-probe tool: one behaviour per test."""
import json
import os
import subprocess
import time

import harness
from sim_ddi import DdiSim

PROBE = os.path.join(harness.BUILD, "tools", "ddi-probe")


def probe_env(sim, extra=None):
    env = harness.base_env("redis://127.0.0.1:9/0", ddi_url=sim.base)
    env["SCBRIDGE_LOG_LEVEL"] = "warn"
    env["SCBRIDGE_DDI_TIMEOUT"] = "1s"
    env["SCBRIDGE_DDI_CUSTOMERS"] = "default=WEB,Amazon=WEB-AMAZON"
    env.update(extra or {})
    return env


def probe(sim, *args, stdin=None, extra=None, threads=None):
    """Runs ddi-probe; answers (exit status, [JSON lines], stderr)."""
    argv = [PROBE]
    if threads:
        argv += ["--threads", str(threads)]
    argv += list(args)
    if isinstance(stdin, (dict, list)):
        stdin = json.dumps(stdin)
    r = subprocess.run(argv, input=(stdin or "").encode(),
                       capture_output=True, env=probe_env(sim, extra),
                       timeout=60)
    lines = [json.loads(ln) for ln in r.stdout.decode().splitlines() if ln]
    return r.returncode, lines, r.stderr.decode()


def one(sim, *args, **kw):
    rc, lines, err = probe(sim, *args, **kw)
    assert len(lines) == 1, (rc, lines, err)
    return rc, lines[0]


def sc_order(order_id=5012001, lines=((1, "SKU-001", 3, 10.00),),
             shipping=4.00, handling=0.5, insurance=0.5, tax=0.83,
             order_disc=0.0, ship_disc=0.0, grand=None, **extra):
    """A Sellercloud list item (MultipleOrderDataDto) as the poll reads it."""
    items = [{"ID": i, "ProductID": sku, "Qty": q, "LineTotal": t,
              "DisplayName": "item %d" % i} for i, sku, q, t in lines]
    if grand is None:
        grand = round(sum(ln[3] for ln in lines) + shipping + handling +
                      insurance + tax - abs(order_disc) - abs(ship_disc), 2)
    addr = {"FirstName": "Pat", "LastName": "Buyer", "CompanyName": "",
            "StreetLine1": "1 Main St", "StreetLine2": "", "City": "Town",
            "StateCode": "IL", "PostalCode": "62701", "CountryCode": "US",
            "PhoneNumber": "555-0100", "EmailAddress": "pat@example.com"}
    o = {"ID": order_id, "CompanyID": 163, "OrderSource": 4,
         "OrderSourceOrderID": "113-4567890-1234567", "StatusCode": 2,
         "PaymentStatus": 30, "ShippingStatus": 1, "Dropship": 0,
         "TimeOfOrder": "2026-12-01T10:00:00",
         "LastUpdated": "2026-12-01T10:05:00",
         "CreatedOn": "2026-12-01T10:00:00", "Items": items,
         "GrandTotal": grand, "ShippingTotal": shipping,
         "HandlingFee": handling, "InsuranceTotal": insurance,
         "TaxTotal": tax, "OrderDiscountsTotal": order_disc,
         "ShippingDiscountsTotal": ship_disc,
         "Payments": [{"ID": 1, "TransactionReferenceNumber": "PAY-9"}],
         "BillingAddress": addr, "ShippingAddress": dict(addr),
         "ShippingCarrier": "UPS", "ShippingService": "Ground",
         "ShipDate": None, "TrackingNumber": "", "AllTrackingNumbers": []}
    o.update(extra)
    return o


def create_raw(sim, ref, lines=(("SKU-001", 1, "1.00"),), **kw):
    return one(sim, "create", ref, stdin=DdiSim.order_body(ref, list(lines),
                                                          **kw))


# -- create and lookup ----------------------------------------------------

def test_mapped_order_with_split_line_is_created_and_found():
    sim = DdiSim()
    rc, out = one(sim, "create-sc", "163", stdin=sc_order())
    assert rc == 0 and out["result"] == "OK", out
    assert out["reference"] == "SC-163-5012001"
    order = out["order"]
    assert order["status"] == "open"
    # 10.00 + 5.00 + 0.83: the simulator's own total equals the deposit.
    assert order["total_cents"] == 1583
    assert order["deposit_cents"] == 1583 and order["applied_cents"] == 0
    assert order["deposit_status"] == "held"
    (stored,) = sim.orders("SC-163-5012001")
    assert [(ln["qty"], ln["unit_price"]) for ln in stored["lines"]] == \
        [(2, "3.33"), (1, "3.34")]
    assert stored["customer"]["account_no"] == "WEB-AMAZON"
    assert stored["channel"] == "Amazon"
    assert stored["deposit"]["reference"] == "PAY-9"
    rc, out = one(sim, "find", "SC-163-5012001")
    assert rc == 0 and [o["order_no"] for o in out["orders"]] == \
        [order["order_no"]]
    rc, out = one(sim, "get", order["order_no"])
    assert rc == 0 and out["order"]["reference"] == "SC-163-5012001"


def test_lookup_of_unknown_reference_finds_nothing():
    sim = DdiSim()
    rc, out = one(sim, "find", "SC-163-404")
    assert rc == 0 and out["orders"] == []


def test_duplicate_reference_shows_two_orders_in_lookup():
    sim = DdiSim()
    assert create_raw(sim, "SC-163-77")[1]["result"] == "OK"
    assert create_raw(sim, "SC-163-77")[1]["result"] == "OK"
    rc, out = one(sim, "find", "SC-163-77")
    assert rc == 0 and len(out["orders"]) == 2
    assert len({o["order_no"] for o in out["orders"]}) == 2


def test_total_mismatch_is_refused_before_sending():
    sim = DdiSim()
    rc, out = one(sim, "create-sc", "163", stdin=sc_order(grand=15.84))
    assert rc == 1 and out["result"] == "EINVAL"
    assert out["reason"] == ("TOTAL_MISMATCH: lines 10.00 + freight 5.00 + "
                             "tax 0.83 - discount 0.00 = 15.83, "
                             "GrandTotal 15.84")
    assert sim.orders() == []


def test_discounts_and_stored_company_reach_the_order():
    sim = DdiSim()
    o = sc_order(order_id=42, lines=((1, "SKU-002", 2, 39.90),),
                 order_disc=-2.00, ship_disc=-1.00)
    rc, out = one(sim, "create-sc", "170", stdin=o)
    assert rc == 0, out
    (stored,) = sim.orders("SC-170-42")
    assert stored["charges"] == {"freight": "5.00", "tax": "0.83",
                                 "discount": "3.00"}
    assert stored["deposit"]["amount"] == "42.73"


def test_already_shipped_order_is_created_complete():
    sim = DdiSim()
    o = sc_order(order_id=9, ShippingStatus=3,
                 ShipDate="2026-12-01T18:30:00.123",
                 AllTrackingNumbers=["1ZAAA", "1ZBBB"])
    rc, out = one(sim, "create-sc", "163", "--shipped", stdin=o)
    assert rc == 0, out
    order = out["order"]
    assert order["status"] == "complete"
    (ship,) = order["shipments"]
    assert ship["valid"] and ship["complete"]
    assert ship["tracking_nos"] == ["1ZAAA", "1ZBBB"]
    assert ship["carrier"] == "UPS" and ship["service"] == "Ground"
    (stored,) = sim.orders("SC-163-9")
    assert stored["already_shipped"]["ship_date"] == "2026-12-01"


# -- refusals ---------------------------------------------------------------

def test_unknown_product_is_permanent_with_its_reason():
    sim = DdiSim()
    rc, out = create_raw(sim, "SC-163-5", [("SKU-001", 1, "1.00"),
                                           ("NOPE-9", 1, "1.00")])
    assert rc == 1 and out["result"] == "EPERMANENT"
    assert out["class"] == "permanent" and out["status"] == 422
    assert out["reason"] == "UNKNOWN_PRODUCT"
    assert "UNKNOWN_PRODUCT line 2" in out["detail"]
    assert "no such product" in out["detail"]


def test_other_validation_error_is_ddi_validation():
    sim = DdiSim()
    rc, out = create_raw(sim, "SC-163-6", customer="WEB-NOBODY")
    assert rc == 1 and out["status"] == 422
    assert out["reason"] == "DDI_VALIDATION"
    assert "CUSTOMER_NOT_FOUND" in out["detail"]


def test_unknown_order_is_permanent_404():
    sim = DdiSim()
    rc, out = one(sim, "get", "SO-NONE")
    assert rc == 1 and out["result"] == "EPERMANENT"
    assert out["class"] == "permanent" and out["status"] == 404


def test_bad_key_is_transient():
    sim = DdiSim()
    rc, out = one(sim, "find", "SC-1-1",
                  extra={"SCBRIDGE_DDI_API_KEY": "wrong"})
    assert rc == 1 and out["status"] == 401
    assert out["result"] == "EUPSTREAM" and out["class"] == "transient"


# -- cancel -----------------------------------------------------------------

def test_cancel_before_shipment_reverses_and_repeats():
    sim = DdiSim()
    order_no = create_raw(sim, "SC-163-7")[1]["order"]["order_no"]
    for _ in range(2):
        rc, out = one(sim, "cancel", order_no, "cancelled in Sellercloud")
        assert rc == 0, out
        assert out["order"]["status"] == "cancelled"
        assert out["order"]["deposit_status"] == "reversed"


def test_cancel_after_shipment_is_a_conflict():
    sim = DdiSim()
    order_no = create_raw(sim, "SC-163-8", [("SKU-001", 2, "1.00")])[1][
        "order"]["order_no"]
    st, _ = sim.ship_confirm(order_no, lines=[{"line_no": 1, "qty": 1}],
                             callback=False)
    assert st == 201
    rc, out = one(sim, "cancel", order_no, "too late")
    assert rc == 1 and out["result"] == "ECONFLICT"
    assert out["class"] == "permanent" and out["status"] == 409
    assert out["reason"] == "CANCELLED_AFTER_SHIPMENT"


# -- lists and cursors ---------------------------------------------------------

def test_shipments_page_with_cursor_and_more():
    sim = DdiSim()
    order_no = create_raw(sim, "SC-163-20", [("SKU-001", 3, "1.00")])[1][
        "order"]["order_no"]
    ids = []
    for _ in range(3):
        st, r = sim.ship_confirm(order_no, lines=[{"line_no": 1, "qty": 1}],
                                 callback=False)
        assert st == 201
        ids.append(r["shipment"]["shipment_id"])
    rc, p1 = one(sim, "shipments", "-", "-", "2")
    assert rc == 0 and p1["more"] is True
    assert [s["shipment_id"] for s in p1["items"]] == ids[:2]
    assert all(s["valid"] and s["reference"] == "SC-163-20"
               for s in p1["items"])
    assert [s["complete"] for s in p1["items"]] == [False, False]
    rc, p2 = one(sim, "shipments", p1["next_cursor"], "-", "2")
    assert [s["shipment_id"] for s in p2["items"]] == ids[2:]
    assert p2["more"] is False and p2["items"][0]["complete"] is True
    assert p2["items"][0]["tracking_nos"]
    rc, p3 = one(sim, "shipments", p2["next_cursor"], "-", "2")
    assert rc == 0 and p3["items"] == [] and p3["more"] is False
    rc, later = one(sim, "shipments", "-", "2099-01-01T00:00:00Z", "2")
    assert rc == 0 and later["items"] == []


def test_forged_cursor_is_permanent_400():
    sim = DdiSim()
    rc, out = one(sim, "shipments", "not-a-cursor", "-", "10")
    assert rc == 1 and out["status"] == 400 and out["class"] == "permanent"


def test_items_page_with_cursor_and_changes_after_it():
    sim = DdiSim(items=3, warehouses="MAIN,WEST")
    rc, p1 = one(sim, "items", "-", "-", "4")
    assert rc == 0 and p1["more"] is True and len(p1["items"]) == 4
    rc, p2 = one(sim, "items", p1["next_cursor"], "-", "4")
    assert p2["more"] is False and len(p2["items"]) == 2
    assert all(i["valid"] for i in p1["items"] + p2["items"])
    sim.seed_items([{"product_no": "SKU-002", "warehouse": "MAIN",
                     "available_qty": -4, "price": "9.5"}], notify=False)
    rc, p3 = one(sim, "items", p2["next_cursor"], "-", "4")
    (changed,) = p3["items"]
    assert changed["product_no"] == "SKU-002"
    assert changed["available_qty"] == -4 and changed["price"] == "9.50"


# -- faults and their classes ------------------------------------------------

def test_create_timeout_is_outcome_unknown():
    sim = DdiSim()
    sim.create_fault("timeout", count=1)
    started = time.monotonic()
    rc, out = create_raw(sim, "SC-163-30")
    assert rc == 1 and out["result"] == "EUNKNOWN", out
    assert out["class"] == "unknown" and out["status"] == 0
    assert time.monotonic() - started < 5
    # The gateway did commit it: the later lookup finds it.
    rc, found = one(sim, "find", "SC-163-30")
    assert len(found["orders"]) == 1


def test_create_500_is_outcome_unknown():
    sim = DdiSim()
    sim.create_fault("error", count=1)
    rc, out = create_raw(sim, "SC-163-31")
    assert rc == 1 and out["result"] == "EUNKNOWN"
    assert out["class"] == "unknown" and out["status"] == 500


def test_create_dropped_connection_is_outcome_unknown():
    sim = DdiSim()
    sim.faults([{"method": "POST", "path_prefix": "/v1/pos-orders",
                 "drop_rate": 1.0}])
    rc, out = create_raw(sim, "SC-163-32")
    assert rc == 1 and out["result"] == "EUNKNOWN"
    assert out["class"] == "unknown"


def test_read_timeout_and_5xx_are_transient():
    sim = DdiSim()
    sim.faults([{"method": "GET", "path_prefix": "/v1/items",
                 "timeout_rate": 1.0}])
    rc, out = one(sim, "items", "-", "-", "5")
    assert rc == 1 and out["result"] == "ETIMEOUT"
    assert out["class"] == "transient"
    sim.faults([{"method": "GET", "path_prefix": "/v1/items",
                 "error_rate": 1.0, "error_status": 502}])
    rc, out = one(sim, "items", "-", "-", "5")
    assert out["result"] == "EUPSTREAM" and out["status"] == 502
    sim.faults([{"method": "GET", "path_prefix": "/v1/items",
                 "error_rate": 1.0, "error_status": 503}])
    rc, out = one(sim, "items", "-", "-", "5")
    assert out["result"] == "EUPSTREAM" and out["class"] == "transient"


def test_busy_answers_are_wait():
    sim = DdiSim()
    sim.faults([{"path_prefix": "/v1/shipments", "error_rate": 1.0,
                 "error_status": 503, "retry_after_s": 7}])
    rc, out = one(sim, "shipments", "-", "-", "5")
    assert rc == 1 and out["result"] == "EWAIT"
    assert out["class"] == "wait" and out["wait_ms"] == 7000
    sim.faults([{"path_prefix": "/v1/pos-orders", "error_rate": 1.0,
                 "error_status": 429, "retry_after_s": 3}])
    rc, out = create_raw(sim, "SC-163-33")
    assert out["result"] == "EWAIT" and out["wait_ms"] == 3000
    sim.faults([])
    assert sim.orders("SC-163-33") == []


def test_requests_in_flight_are_bounded_by_concurrency():
    sim = DdiSim()
    sim.faults([{"method": "GET", "path_prefix": "/v1/pos-orders",
                 "latency_ms": 400}])
    rc, lines, err = probe(sim, "find", "SC-1-1", threads=4,
                           extra={"SCBRIDGE_DDI_CONCURRENCY": "1"})
    assert rc == 0, (lines, err)
    assert [ln["result"] for ln in lines[:-1]] == ["OK"] * 4
    assert lines[-1]["elapsed_ms"] >= 1550, lines[-1]
    rc, lines, err = probe(sim, "find", "SC-1-1", threads=4,
                           extra={"SCBRIDGE_DDI_CONCURRENCY": "4"})
    assert rc == 0, (lines, err)
    assert lines[-1]["elapsed_ms"] < 1200, lines[-1]
