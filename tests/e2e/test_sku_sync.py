# SPDX-License-Identifier: MIT
"""The SKU and inventory sync end to end: the real scbridge binary against
both simulators and a throwaway Redis. DDI items reach Sellercloud products
and physical stock through the item poll, which the leader's scheduler
enqueues every SCBRIDGE_POLL_ITEMS (2 s here); the reservations of the
stock formula come from real order imports, notified as the Sellercloud
relay does. One behaviour per test."""
import json
import time

import harness
from sim_ddi import DdiSim
from sim_sc import ScSim

P = "scb:v1:"
COMPANY = 163

EP_CATALOG = "GET /api/Catalog"
EP_CREATE = "POST /api/Products"
EP_QTY = "PUT /api/Inventory/SetPhysicalInventory"
EP_BASIC = "PUT /api/Catalog/BasicInfo"
EP_COLUMNS = "PUT /api/Products/CustomColumns"
WRITES = (EP_CATALOG, EP_CREATE, EP_QTY, EP_BASIC, EP_COLUMNS)


def upc(n):
    """A 12-digit UPC-A with its GS1 check digit."""
    body = "%011d" % n
    s = sum((3 if i % 2 == 0 else 1) * int(d)
            for i, d in enumerate(reversed(body)))
    return body + str((10 - s % 10) % 10)


def bad_upc(n):
    """upc(n) with a wrong check digit."""
    good = upc(n)
    return good[:-1] + str((int(good[-1]) + 1) % 10)


def item(i, **kw):
    rec = {"product_no": "SKU-%05d" % i, "warehouse": "MAIN",
           "description": "Item %d" % i, "product_type": "Widget",
           "image_url": "https://img.example.com/%d.jpg" % i,
           "web_description": "Web text %d" % i,
           "mfg_product_no": "MFG-%d" % i, "upc": upc(10000 + i),
           "uom": "EA", "price": "%d.%02d" % (1 + i % 90, i % 100),
           "available_qty": i % 200, "active": True, "web": True}
    rec.update(kw)
    return rec


class Rig:
    """Redis, both simulators and scbridge, its first item poll done."""

    def __init__(self, workers=4, poll="2s", extra=None, **sc_opts):
        self.redis = harness.Redis()
        port = harness.free_port()
        self.url = "http://127.0.0.1:%d" % port
        sc_opts.setdefault("rate_budget", 10 ** 8)
        self.sc = ScSim(companies=[COMPANY],
                        relay_url=self.url + "/webhooks/sellercloud",
                        relay_secret=harness.SC_SECRET, **sc_opts)
        self.ddi = DdiSim(items=0, warehouses="MAIN,WEST",
                          items_url=self.url + "/webhooks/ddi/items")
        env = {"SCBRIDGE_POLL_ITEMS": poll,
               "SCBRIDGE_POLL_ORDERS": "default=60m",
               "SCBRIDGE_IMPORT_SINCE": "2020-01-01T00:00:00Z",
               "SCBRIDGE_DDI_CUSTOMERS": "default=WEB",
               "SCBRIDGE_SC_RATE_PER_HOUR": "1000000",
               "SCBRIDGE_WORKERS": str(workers),
               "SCBRIDGE_BACKOFF_BASE": "1s", "SCBRIDGE_BACKOFF_CAP": "2s"}
        env.update(extra or {})
        self.env = harness.base_env(self.redis.url, sc_url=self.sc.rest,
                                    ddi_url=self.ddi.base, port=port,
                                    extra=env)
        self.svc = harness.Service(self.env)
        # The scheduler enqueues the first poll once it leads: it reads
        # DDI's list, still empty, to the end.
        harness.wait_for(lambda: self.poll_hash().get("full_sync_at"),
                         timeout=20, what="the first item poll")

    def seed(self, items, notify=False):
        for at in range(0, len(items), 500):
            self.ddi.seed_items(items[at:at + 500], notify=notify)

    def redis_ms(self):
        sec, usec = self.redis.cmd("TIME")
        return int(sec) * 1000 + int(usec) // 1000

    def item_jobs(self):
        """item.sync jobs not finished: ready, running or delayed."""
        n = 0
        for _, fields in self.redis.cmd("XRANGE", P + "jobs", "-", "+"):
            if dict(zip(fields[::2], fields[1::2])).get("type") == \
                    "item.sync":
                n += 1
        for v in self.redis.cmd("HVALS", P + "jobs:delayed:data"):
            if '"item.sync"' in v:
                n += 1
        return n

    def sync(self, timeout=60):
        """Waits for the scheduler's poll: one that began reading after
        now has reached the end of DDI's list and reported, and no item
        job (a reservation's, a recheck) is left."""
        t0 = self.redis_ms()

        def done():
            if not self.svc.proc.alive():
                raise AssertionError("scbridge exited: %s"
                                     % self.svc.proc.log()[-3000:])
            ph = self.poll_hash()
            caught = int(ph.get("caught_up_at") or 0)
            if caught < t0 or int(ph.get("last_ok_at") or 0) < caught:
                return False
            return self.item_jobs() == 0
        harness.wait_for(done, timeout=timeout, step=0.1,
                         what="the item poll to catch up")

    def hint(self, *pnos):
        """POST /webhooks/ddi/items, signed as DDI signs it."""
        body = json.dumps({"type": "items.changed",
                           "product_nos": list(pnos)}).encode()
        st, _, _ = harness.http(
            "POST", self.url + "/webhooks/ddi/items", body,
            harness.signed_headers(harness.DDI_KEY, body))
        assert st == 202, st

    def notify_orders(self, ids):
        """What the Sellercloud relay sends for new orders."""
        body = json.dumps({"type": "order.created", "company_id": COMPANY,
                           "order_ids": list(ids)}).encode()
        st, _, _ = harness.http(
            "POST", self.url + "/webhooks/sellercloud", body,
            harness.signed_headers(harness.SC_KEY, body))
        assert st == 202, st

    def order_state(self, order_id):
        return self.redis.cmd("HGET", P + "order:%d" % order_id, "state")

    def wait_states(self, want, timeout=30):
        """Waits until each order id of 'want' is in its state."""
        harness.wait_for(lambda: all(self.order_state(o) == s
                                     for o, s in want.items()),
                         timeout=timeout, step=0.1,
                         what="order states %r" % want)

    def reserved(self, sku):
        """I: the open reservations of 'sku' that scbridge recorded."""
        vals = self.redis.cmd("HVALS", P + "reserve:sku:" + sku)
        return sum(int(v.split(":")[0]) for v in vals)

    def calls(self):
        return dict(self.sc.counters()["by_endpoint"])

    def item_hash(self, pno):
        flat = self.redis.cmd("HGETALL", P + "item:" + pno)
        return dict(zip(flat[::2], flat[1::2]))

    def poll_hash(self):
        flat = self.redis.cmd("HGETALL", P + "poll:items:default")
        return dict(zip(flat[::2], flat[1::2]))

    def errors(self):
        flat = self.redis.cmd("HGETALL", P + "items:errors")
        return dict(zip(flat[::2], flat[1::2]))

    def stock(self, sku):
        """(PhysicalQty, ReservedQty, InventoryAvailableQty) as read."""
        tok = self.sc.token()
        st, _, doc = self.sc.call(
            "GET", "/api/Catalog?model.sKU=%s&model.pageNumber=1"
            "&model.pageSize=50" % sku, token=tok)
        assert st == 200, (st, doc)
        it = [x for x in doc["Items"] if x["ID"] == sku][0]
        return (it["PhysicalQty"], it["ReservedQty"],
                it["InventoryAvailableQty"])

    def physical_writes(self, sku):
        """PhysicalQty of every SetPhysicalInventory sent for 'sku'."""
        out = []
        for e in self.sc.requests(limit=20000)["entries"]:
            if e["path"].endswith("/api/Inventory/SetPhysicalInventory"):
                body = json.loads(e["body"])
                if body["ProductID"] == sku and e["status"] == 200:
                    out.append(body["PhysicalQty"])
        return out


def delta(after, before):
    return {k: after.get(k, 0) - before.get(k, 0) for k in WRITES}


def order(*lines, **fields):
    """A Sellercloud order of (sku, qty) lines, Charged unless told."""
    o = {"Items": [{"ProductID": sku, "Qty": qty, "LineTotal": 10.0 * qty,
                    "DisplayName": sku} for sku, qty in lines],
         "ShippingTotal": 0, "TaxTotal": 0}
    o.update(fields)
    return o


# ---- tests --------------------------------------------------------------

def test_full_sync_of_5000_items_then_only_changed_items_are_written():
    rig = Rig(workers=4)
    items = [item(i) for i in range(5000)]
    others = [item(i, warehouse="WEST", available_qty=999)
              for i in range(100)]
    hidden = [item(i, product_no="NW-%03d" % i, web=False)
              for i in range(50)]
    start = time.monotonic()
    rig.seed(items + others + hidden)
    rig.sync(timeout=110)
    took = time.monotonic() - start
    first = rig.calls()
    assert rig.sc.counters()["products"] == 5000
    for k in (EP_CATALOG, EP_CREATE, EP_QTY, EP_BASIC, EP_COLUMNS):
        assert first.get(k, 0) == 5000, (k, first)
    p = rig.sc.product("SKU-00007")
    assert p["ProductName"] == "Item 7" and p["Warehouses"] == {"1": 7}
    assert p["LongDescription"] == "Web text 7"
    assert p["UPC"] == upc(10007) and p["ManufacturerSKU"] == "MFG-7"
    assert {"ColumnName": "UnitOfMeasure", "Value": "EA"} in \
        p["CustomColumns"]
    assert rig.sc.product("SKU-00042")["Warehouses"] == {"1": 42}
    assert rig.sc.product("NW-001") is None
    assert rig.item_hash("NW-001")["status"] == "not_web"
    assert rig.sc.breaches()["count"] == 0
    ph = rig.poll_hash()
    for f in ("cursor", "last_run_at", "last_ok_at", "interval_s",
              "full_sync_at", "caught_up_at"):
        assert ph.get(f), (f, ph)
    assert ph["last_error"] == "" and ph["interval_s"] == "2"
    print("first sync: 5000 items, %.1f s (seeding included), %.2f "
          "Sellercloud calls per item"
          % (took, sum(first.get(k, 0) for k in WRITES) / 5000.0))

    # Nothing changed: the scheduler's next polls cost no Sellercloud call.
    rig.sync()
    assert delta(rig.calls(), first) == dict.fromkeys(WRITES, 0)

    changed = list(range(0, 5000, 25))
    rig.seed([item(i, available_qty=1000 + i, description="Item %d v2" % i)
              for i in changed])
    before = rig.calls()
    rig.sync()
    d = delta(rig.calls(), before)
    assert d == {EP_CATALOG: 0, EP_CREATE: 0, EP_QTY: 200, EP_BASIC: 200,
                 EP_COLUMNS: 0}, d
    for i in (0, 25, 4975):
        p = rig.sc.product("SKU-%05d" % i)
        assert p["Warehouses"] == {"1": 1000 + i}
        assert p["ProductName"] == "Item %d v2" % i
    assert rig.sc.product("SKU-00001")["Warehouses"] == {"1": 1}
    print("200 changed items (qty and name): writes for those 200 only, "
          "%.2f Sellercloud calls per changed item" % (sum(d.values())
                                                       / 200.0))

    # Only the quantity: one call per item.
    rig.seed([item(i, available_qty=7, description="Item %d v2" % i)
              for i in changed[:50]])
    before = rig.calls()
    rig.sync()
    d = delta(rig.calls(), before)
    assert d == {EP_CATALOG: 0, EP_CREATE: 0, EP_QTY: 50, EP_BASIC: 0,
                 EP_COLUMNS: 0}, d
    print("50 items, quantity only: %.2f Sellercloud calls per changed item"
          % (sum(d.values()) / 50.0))


def test_available_quantity_follows_the_stock_formula_under_open_orders():
    rig = Rig(workers=2, extra={"SCBRIDGE_STOCK_BUFFER": "5"})
    rig.seed([item(1, product_no="X", available_qty=150),
              item(2, product_no="Y", available_qty=-3),
              item(3, product_no="Z", available_qty=10)])
    rig.sync()
    assert rig.stock("X") == (145, 0, 145)      # A + I - B, I = 0
    assert rig.stock("Y")[0] == 0               # clamped at 0
    assert rig.stock("Z") == (5, 0, 5)

    # o3 is not paid: never imported, but Sellercloud reserves it too.
    o1, o2, o3, o4 = rig.sc.seed_orders(
        [order(("X", 6)), order(("X", 4)),
         order(("X", 4), PaymentStatus=10), order(("Y", 2))],
        notify=False)
    # Sellercloud reserves all four at once; none is in DDI yet (N = 14).
    assert rig.stock("X") == (145, 14, 131)

    # DDI commits o1, o2 and o4 as scbridge creates them there; then the
    # reservations are recorded (o3 stays unimported: N = 4).
    rig.seed([item(1, product_no="X", available_qty=140),
              item(2, product_no="Y", available_qty=-5)])
    rig.notify_orders([o1, o2, o3, o4])
    rig.wait_states({o1: "imported", o2: "imported", o4: "imported",
                     o3: "awaiting_payment"})
    assert rig.reserved("X") == 10 and rig.reserved("Y") == 2
    rig.sync()
    # P = A + I - B = 140 + 10 - 5; Sellercloud: A - N - B = 140 - 4 - 5.
    assert rig.stock("X") == (145, 14, 131)
    assert rig.stock("Y")[0] == 0               # -5 + 2 - 5 < 0
    # The reservation never counted before DDI's record showed the order:
    # no write ever offered more than the formula's 145.
    assert max(rig.physical_writes("X")) == 145
    print("stock formula, open orders: X P=145, Sellercloud reserved 14, "
          "available 131 (A=140, I=10, N=4, B=5)")

    # o1 ships in Sellercloud: its reservation goes (DDI's A is unchanged).
    rig.sc.ship(o1, "1ZSKUTEST")
    harness.wait_for(lambda: rig.reserved("X") == 4, timeout=30,
                     what="o1's reservation to go")
    rig.sync()
    assert rig.stock("X") == (139, 8, 131)

    # o2 is cancelled: Sellercloud releases it, scbridge cancels it in
    # DDI, which reverses it (A + 4).
    rig.sc.cancel(o2)
    rig.wait_states({o2: "cancelled"})
    assert rig.reserved("X") == 0
    rig.seed([item(1, product_no="X", available_qty=144)])
    rig.sync()
    assert rig.stock("X") == (139, 4, 135)      # 144 - 4 - 5
    assert rig.stock("Z") == (5, 0, 5)
    for sku in ("X", "Y", "Z"):
        assert min(rig.physical_writes(sku)) >= 0


def test_bad_items_get_an_error_each_and_the_rest_go_through():
    rig = Rig(workers=2)
    good = [item(i) for i in range(20)]
    bad = [item(100, product_no="BAD-UPC", upc=bad_upc(777)),
           item(101, product_no="LONG-NAME", description="n" * 300),
           item(102, product_no="BAD-PRICE", price="-1.00"),
           item(103, product_no="NO-TYPE", product_type="")]
    rig.seed(good[:10] + bad + good[10:])
    rig.sync()
    assert rig.sc.counters()["products"] == 20
    for i in range(20):
        assert rig.sc.product("SKU-%05d" % i) is not None
    errors = rig.errors()
    assert sorted(errors) == ["BAD-PRICE", "BAD-UPC", "LONG-NAME",
                              "NO-TYPE"], errors
    assert errors["BAD-UPC"].startswith("ITEM_INVALID: upc " +
                                        bad_upc(777))
    assert errors["LONG-NAME"].startswith("ITEM_INVALID: description")
    assert errors["BAD-PRICE"].startswith("ITEM_INVALID: price -1.00")
    assert errors["NO-TYPE"].startswith("ITEM_INVALID: no product type")
    # New products whose create cannot be made: nothing is written.
    for pno in errors:
        h = rig.item_hash(pno)
        assert h["status"] == "error" and h["error"] == errors[pno]
        assert rig.sc.product(pno) is None
    warned = [x for x in rig.svc.proc.log_lines_json()
              if x.get("msg") == "item needs attention"]
    assert sorted(x["product_no"] for x in warned) == sorted(errors)
    # The cursor went past them: the next polls find nothing to do.
    before = rig.calls()
    rig.sync()
    assert delta(rig.calls(), before) == dict.fromkeys(WRITES, 0)

    # Fixed in DDI, the item goes through and its error is cleared.
    rig.seed([item(100, product_no="BAD-UPC")])
    rig.sync()
    assert rig.sc.product("BAD-UPC")["UPC"] == upc(10100)
    assert rig.item_hash("BAD-UPC")["status"] == "written"
    assert rig.redis.cmd("HEXISTS", P + "items:errors", "BAD-UPC") == 0
    assert rig.svc.metric("scbridge_item_errors_total",
                          reason="ITEM_INVALID") == 4
    print("bad items: %d recorded (%s), the 20 good ones written"
          % (len(errors), ", ".join(sorted(errors))))


def test_bad_field_of_existing_product_still_gets_its_stock_written():
    rig = Rig(workers=2)
    rig.seed([item(1), item(2)])
    rig.sync()

    # DDI spoils the UPC as the stock moves: the stock and the name go,
    # the UPC stays as it was, and the item's error names the field.
    rig.seed([item(1, upc=bad_upc(777), available_qty=33,
                   description="Item 1 v2")])
    before = rig.calls()
    rig.sync()
    d = delta(rig.calls(), before)
    assert d == {EP_CATALOG: 0, EP_CREATE: 0, EP_QTY: 1, EP_BASIC: 1,
                 EP_COLUMNS: 0}, d
    p = rig.sc.product("SKU-00001")
    assert p["Warehouses"] == {"1": 33}
    assert p["ProductName"] == "Item 1 v2" and p["UPC"] == upc(10001)
    h = rig.item_hash("SKU-00001")
    assert h["status"] == "error", h
    assert h["error"].startswith("ITEM_INVALID: upc " + bad_upc(777)), h
    assert rig.errors() == {"SKU-00001": h["error"]}
    assert rig.svc.metric("scbridge_item_errors_total",
                          reason="ITEM_INVALID") == 1
    print("bad UPC on an existing product: stock 33 written, %d "
          "Sellercloud calls; error %r" % (sum(d.values()), h["error"]))

    # Fixed in DDI: only the UPC is written, and the error goes.
    rig.seed([item(1, available_qty=33, description="Item 1 v2",
                   upc=upc(4242))])
    before = rig.calls()
    rig.sync()
    d = delta(rig.calls(), before)
    assert d == {EP_CATALOG: 0, EP_CREATE: 0, EP_QTY: 0, EP_BASIC: 1,
                 EP_COLUMNS: 0}, d
    assert rig.sc.product("SKU-00001")["UPC"] == upc(4242)
    assert rig.item_hash("SKU-00001")["status"] == "written"
    assert rig.errors() == {}


def test_writes_cut_by_the_rate_limit_resume_without_repeating():
    rig = Rig(workers=1)
    # The order poll at start fetched the token; from now on three calls
    # a window: catalog, create, stock. The basic info gets Sellercloud's
    # 429, so the item waits with three steps done.
    harness.wait_for(lambda: rig.svc.metric(
        "scbridge_jobs_total", type="poll.orders") >= 1, timeout=20,
        what="the first order poll")
    rig.sc.config(rate_budget=3, rate_window_s=3)
    rig.seed([item(1)])
    rig.sync(timeout=30)
    log = [(e["method"], e["path"].replace("/rest", ""), e["status"])
           for e in rig.sc.requests()["entries"]]
    sent = [x for x in log if x[1] not in ("/api/token", "/api/Orders")]
    assert sent == [
        ("GET", "/api/Catalog", 200), ("POST", "/api/Products", 200),
        ("PUT", "/api/Inventory/SetPhysicalInventory", 200),
        ("PUT", "/api/Catalog/BasicInfo", 429),
        ("PUT", "/api/Catalog/BasicInfo", 200),
        ("PUT", "/api/Products/CustomColumns", 200)], log
    p = rig.sc.product("SKU-00001")
    assert p["Warehouses"] == {"1": 1} and p["LongDescription"] == \
        "Web text 1"
    h = rig.item_hash("SKU-00001")
    assert h["status"] == "written" and "pend" not in h


def test_hints_and_unannounced_changes_and_web_flag_changes():
    # Polls run only when a hint asks for one (the scheduler's next is an
    # hour away), so what counts as found does not depend on when a
    # scheduled poll falls. One worker takes the hints before the poll
    # they ask for.
    rig = Rig(workers=1, poll="60m")
    rig.seed([item(i) for i in range(10)], notify=True)
    rig.sync()
    base = rig.calls()
    assert base[EP_QTY] == 10

    # A is announced by DDI's webhook, B changes silently.
    rig.seed([item(2, available_qty=60)])
    rig.seed([item(1, available_qty=50)], notify=True)
    rig.sync()
    assert rig.sc.product("SKU-00001")["Warehouses"] == {"1": 50}
    assert rig.sc.product("SKU-00002")["Warehouses"] == {"1": 60}
    assert delta(rig.calls(), base)[EP_QTY] == 2

    # Off the web: passed over, nothing written; back on: written again.
    # A hint for an unchanged item brings the polls.
    rig.seed([item(3, web=False, available_qty=70)])
    before = rig.calls()
    rig.hint("SKU-00009")
    rig.sync()
    assert delta(rig.calls(), before) == dict.fromkeys(WRITES, 0)
    assert rig.item_hash("SKU-00003")["status"] == "not_web"
    rig.seed([item(3, available_qty=80)])
    rig.hint("SKU-00009")
    rig.sync()
    assert rig.sc.product("SKU-00003")["Warehouses"] == {"1": 80}

    # A hint for an item never read asks for a poll, which writes it.
    rig.seed([item(11)])
    rig.hint("SKU-00011")
    rig.sync()
    assert rig.sc.product("SKU-00011")["Warehouses"] == {"1": 11}
    # B, SKU-00003 twice; the hinted ones do not count.
    assert rig.svc.metric("scbridge_reconcile_found_total",
                          kind="item") == 3


def test_failed_writes_are_retried_without_repeating_the_done_ones():
    rig = Rig(workers=2)
    rig.sc.faults([{"method": "PUT", "path_prefix": "/rest/api/Catalog/"
                    "BasicInfo", "error_rate": 0.2, "error_status": 500}],
                  seed=3)
    rig.seed([item(i) for i in range(30)])
    rig.sync(timeout=60)
    fired = rig.sc.faults_state()["rules"][0]["fired"]["error"]
    assert fired > 0
    log = rig.sc.requests()["entries"]

    def sent(path, status=200):
        return sum(1 for e in log
                   if e["path"].endswith(path) and e["status"] == status)
    assert rig.sc.counters()["products"] == 30
    assert sent("/api/Products") == 30
    assert sent("/api/Inventory/SetPhysicalInventory") == 30
    assert sent("/api/Catalog/BasicInfo") == 30
    for i in range(30):
        assert rig.sc.product("SKU-%05d" % i)["LongDescription"] == \
            "Web text %d" % i
    # The poll job never spent its attempts on the items' failures.
    assert rig.redis.cmd("XLEN", P + "jobs:dead") == 0
    assert rig.redis.cmd("HLEN", P + "items:errors") == 0
    print("failed writes: %d BasicInfo 500s, each item's done steps sent "
          "once" % fired)
