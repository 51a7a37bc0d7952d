# SPDX-License-Identifier: MIT
"""The SKU and inventory sync (service/job_items.c, service/reserve.c) end
to end: DDI items reach Sellercloud products and physical stock through
the simulators, with a throwaway Redis. The service binary does not run
the item handlers yet, so the tests run them in the items-worker tool
(tests/tools/items-worker.c): a worker pool with job_items_register(),
plus commands to enqueue a poll, a webhook-style hint, and reservations.
One behaviour per test."""
import json
import os
import signal
import subprocess
import time

import harness
from sim_ddi import DdiSim
from sim_sc import ScSim

TOOL = os.path.join(harness.BUILD, "tools", "items-worker")
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
    """Redis, both simulators and the items-worker running the handlers."""

    def __init__(self, workers=4, extra=None, **sc_opts):
        self.redis = harness.Redis()
        sc_opts.setdefault("rate_budget", 10 ** 8)
        self.sc = ScSim(companies=[COMPANY], **sc_opts)
        self.ddi = DdiSim(items=0, warehouses="MAIN,WEST")
        env = {"SCBRIDGE_SC_RATE_PER_HOUR": "1000000",
               "SCBRIDGE_WORKERS": str(workers),
               "SCBRIDGE_BACKOFF_BASE": "1s", "SCBRIDGE_BACKOFF_CAP": "2s",
               "SCBRIDGE_LOG_LEVEL": "info"}
        env.update(extra or {})
        self.env = harness.base_env(self.redis.url, sc_url=self.sc.rest,
                                    ddi_url=self.ddi.base, extra=env)
        self.worker = None
        self.start()

    def start(self):
        self.worker = harness.Proc("items-worker", [TOOL, "run"], self.env)
        harness.wait_for(lambda: "\"started\"" in self.worker.log(),
                         what="items-worker to start")

    def stop_worker(self):
        """Stops the pool; answers the metrics text it printed."""
        self.worker.signal(signal.SIGTERM)
        assert self.worker.wait(timeout=30) == 0, self.worker.log()[-3000:]
        return self.worker.log()

    def tool(self, *args, ok=True):
        p = subprocess.run([TOOL] + [str(a) for a in args], env=self.env,
                           capture_output=True, text=True, timeout=60)
        if ok:
            assert p.returncode == 0, (args, p.stdout, p.stderr[-2000:])
        return json.loads(p.stdout.strip().splitlines()[-1])

    def seed(self, items):
        for at in range(0, len(items), 500):
            self.ddi.seed_items(items[at:at + 500], notify=False)

    def idle(self, timeout=60):
        """Waits until no job is ready, running or delayed, twice."""
        def empty():
            return (self.redis.cmd("XLEN", P + "jobs") == 0 and
                    self.redis.cmd("ZCARD", P + "jobs:delayed") == 0)

        def settled():
            if not self.worker.alive():
                raise AssertionError("items-worker died: %s"
                                     % self.worker.log()[-3000:])
            if not empty():
                return False
            time.sleep(0.2)
            return empty()
        harness.wait_for(settled, timeout=timeout, step=0.1,
                         what="the item jobs to finish")

    def sync(self, timeout=60):
        self.tool("poll")
        self.idle(timeout)

    def calls(self):
        return dict(self.sc.counters()["by_endpoint"])

    def item_hash(self, pno):
        flat = self.redis.cmd("HGETALL", P + "item:" + pno)
        return dict(zip(flat[::2], flat[1::2]))

    def poll_hash(self):
        flat = self.redis.cmd("HGETALL", P + "poll:items:default")
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


def metric(text, name, labels):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and labels in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


# ---- tests --------------------------------------------------------------

def test_full_sync_of_5000_items_then_only_changed_items_are_written():
    rig = Rig(workers=4)
    items = [item(i) for i in range(5000)]
    others = [item(i, warehouse="WEST", available_qty=999)
              for i in range(100)]
    hidden = [item(i, product_no="NW-%03d" % i, web=False)
              for i in range(50)]
    rig.seed(items + others + hidden)

    start = time.monotonic()
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
    assert ph["last_error"] == "" and ph["interval_s"] == "900"
    print("first sync: 5000 items, %.1f s, %.2f Sellercloud calls per item"
          % (took, sum(first.get(k, 0) for k in WRITES) / 5000.0))

    # Nothing changed: a poll costs no Sellercloud call.
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
    print("200 changed items (qty and name): %.2f Sellercloud calls per "
          "changed item" % (sum(d.values()) / 200.0))

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

    def line(sku, qty):
        return {"ProductID": sku, "Qty": qty, "LineTotal": 10.0 * qty,
                "DisplayName": sku}
    o1, o2, o3, o4 = rig.sc.seed_orders(
        [{"Items": [line("X", 6)], "ShippingTotal": 0, "TaxTotal": 0},
         {"Items": [line("X", 4)], "ShippingTotal": 0, "TaxTotal": 0},
         {"Items": [line("X", 4)], "ShippingTotal": 0, "TaxTotal": 0},
         {"Items": [line("Y", 2)], "ShippingTotal": 0, "TaxTotal": 0}],
        notify=False)
    # Sellercloud reserves all four at once; none is in DDI yet (N = 14).
    assert rig.stock("X") == (145, 14, 131)

    # o1, o2 and o4 are imported: DDI commits them, then the reservation
    # is recorded (o3 stays unimported: N = 4).
    rig.seed([item(1, product_no="X", available_qty=140),
              item(2, product_no="Y", available_qty=-5)])
    for o in (o1, o2, o4):
        rig.tool("reserve-add", COMPANY, o)
    assert rig.tool("reserve-qty", "X")["qty"] == 10
    rig.idle()
    # P = A + I - B = 140 + 10 - 5; Sellercloud: A - N - B = 140 - 4 - 5.
    assert rig.stock("X") == (145, 14, 131)
    assert rig.stock("Y")[0] == 0               # -5 + 2 - 5 < 0
    # The reservation never counted before DDI's record showed the order:
    # no write ever offered more than the formula's 145.
    assert max(rig.physical_writes("X")) == 145

    # o1 ships in Sellercloud: its reservation goes (DDI's A is unchanged).
    rig.sc.ship(o1, "1ZSKUTEST", notify=False)
    rig.tool("reserve-remove", COMPANY, o1)
    rig.idle()
    assert rig.stock("X") == (139, 8, 131)

    # o2 is cancelled: Sellercloud releases it, DDI reverses it (A + 4).
    rig.sc.cancel(o2, notify=False)
    rig.seed([item(1, product_no="X", available_qty=144)])
    rig.tool("reserve-remove", COMPANY, o2)
    rig.sync()
    assert rig.stock("X") == (139, 4, 135)      # 144 - 4 - 5
    assert rig.tool("reserve-qty", "X")["qty"] == 0
    assert rig.stock("Z") == (5, 0, 5)
    for sku in ("X", "Y", "Z"):
        assert min(rig.physical_writes(sku)) >= 0


def test_bad_items_get_an_error_each_and_the_rest_go_through():
    rig = Rig(workers=2)
    good = [item(i) for i in range(20)]
    bad_upc = upc(777)[:-1] + str((int(upc(777)[-1]) + 1) % 10)
    bad = [item(100, product_no="BAD-UPC", upc=bad_upc),
           item(101, product_no="LONG-NAME", description="n" * 300),
           item(102, product_no="BAD-PRICE", price="-1.00"),
           item(103, product_no="NO-TYPE", product_type="")]
    rig.seed(good[:10] + bad + good[10:])
    rig.sync()
    assert rig.sc.counters()["products"] == 20
    for i in range(20):
        assert rig.sc.product("SKU-%05d" % i) is not None
    flat = rig.redis.cmd("HGETALL", P + "items:errors")
    errors = dict(zip(flat[::2], flat[1::2]))
    assert sorted(errors) == ["BAD-PRICE", "BAD-UPC", "LONG-NAME",
                              "NO-TYPE"], errors
    assert errors["BAD-UPC"].startswith("ITEM_INVALID: upc " + bad_upc)
    assert errors["LONG-NAME"].startswith("ITEM_INVALID: description")
    assert errors["BAD-PRICE"].startswith("ITEM_INVALID: price -1.00")
    assert errors["NO-TYPE"].startswith("ITEM_INVALID: no product type")
    for pno in errors:
        h = rig.item_hash(pno)
        assert h["status"] == "error" and h["error"] == errors[pno]
        assert rig.sc.product(pno) is None
    warned = [x for x in rig.worker.log_lines_json()
              if x.get("msg") == "item needs attention"]
    assert sorted(x["product_no"] for x in warned) == sorted(errors)
    # The cursor went past them: the next poll finds nothing to do.
    before = rig.calls()
    rig.sync()
    assert delta(rig.calls(), before) == dict.fromkeys(WRITES, 0)

    # Fixed in DDI, the item goes through and its error is cleared.
    rig.seed([item(100, product_no="BAD-UPC")])
    rig.sync()
    assert rig.sc.product("BAD-UPC")["UPC"] == upc(10100)
    assert rig.item_hash("BAD-UPC")["status"] == "written"
    assert rig.redis.cmd("HEXISTS", P + "items:errors", "BAD-UPC") == 0
    text = rig.stop_worker()
    assert metric(text, "scbridge_item_errors_total",
                  'reason="ITEM_INVALID"') == 4


def test_bad_field_of_existing_product_still_gets_its_stock_written():
    rig = Rig(workers=2)
    rig.seed([item(1), item(2)])
    rig.sync()
    bad_upc = upc(777)[:-1] + str((int(upc(777)[-1]) + 1) % 10)

    # DDI spoils the UPC as the stock moves: the stock and the name go,
    # the UPC stays as it was, and the item's error names the field.
    rig.seed([item(1, upc=bad_upc, available_qty=33,
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
    assert h["error"].startswith("ITEM_INVALID: upc " + bad_upc), h
    assert rig.redis.cmd("HGET", P + "items:errors", "SKU-00001") == \
        h["error"]
    print("bad UPC, stock 33: %d Sellercloud calls; error %r"
          % (sum(d.values()), h["error"]))

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
    assert rig.redis.cmd("HEXISTS", P + "items:errors", "SKU-00001") == 0


def test_writes_cut_by_the_rate_limit_resume_without_repeating():
    # Four calls a window: token, catalog, create, stock; the basic info
    # gets Sellercloud's 429, so the item waits with two steps done.
    rig = Rig(workers=1, rate_budget=4, rate_window_s=3)
    rig.seed([item(1)])
    rig.sync(timeout=30)
    log = [(e["method"], e["path"].replace("/rest", ""), e["status"])
           for e in rig.sc.requests()["entries"]]
    sent = [x for x in log if x[1] != "/api/token"]
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
    rig = Rig(workers=2)
    rig.seed([item(i) for i in range(10)])
    rig.sync()
    base = rig.calls()

    # A is announced by a webhook-style hint, B changes silently.
    rig.seed([item(1, available_qty=50), item(2, available_qty=60)])
    rig.tool("hint", "SKU-00001")
    rig.idle()
    assert rig.sc.product("SKU-00001")["Warehouses"] == {"1": 50}
    assert rig.sc.product("SKU-00002")["Warehouses"] == {"1": 60}
    assert delta(rig.calls(), base)[EP_QTY] == 2

    # Off the web: passed over, nothing written; back on: written again.
    rig.seed([item(3, web=False, available_qty=70)])
    before = rig.calls()
    rig.sync()
    assert delta(rig.calls(), before) == dict.fromkeys(WRITES, 0)
    assert rig.item_hash("SKU-00003")["status"] == "not_web"
    rig.seed([item(3, available_qty=80)])
    rig.sync()
    assert rig.sc.product("SKU-00003")["Warehouses"] == {"1": 80}

    # An item.sync for an item never read asks for a poll, which writes it.
    rig.ddi.seed_items([item(11)], notify=False)
    rig.tool("hint", "SKU-00011")
    rig.idle()
    assert rig.sc.product("SKU-00011")["Warehouses"] == {"1": 11}
    text = rig.stop_worker()
    # B, SKU-00003 twice; the hinted ones do not count.
    assert metric(text, "scbridge_reconcile_found_total",
                  'kind="item"') == 3, text[-2000:]


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
