# SPDX-License-Identifier: MIT
"""The Sellercloud simulator's own tests: one per contract rule it keeps
(sellercloud.md "Simulator" rules, webhooks.md relay notifications, the
ddi.md totals formula) and per fault of the shared HTTP core."""
import datetime
import http.client
import http.server
import json
import socket
import threading
import time

import harness
from sim_sc import ScSim, request


def _get(sim, path, tok):
    return sim.call("GET", path, token=tok)


def _cents(x):
    return int(round(x * 100))


def _order(**kw):
    """A small explicit order in the list shape."""
    o = {"Items": [{"ProductID": "ABC-1", "Qty": 2, "LineTotal": 20.00,
                    "DisplayName": "Widget"}],
         "ShippingTotal": 5.00, "TaxTotal": 1.65}
    o.update(kw)
    return o


def _utc(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + "Z"


class _Receiver:
    """A loopback HTTP server that records the webhooks it receives."""

    def __init__(self):
        self.got = []
        recv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                recv.got.append(({k.lower(): v for k, v in
                                  self.headers.items()}, body))
                self.send_response(202)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/webhooks/sellercloud" % \
            self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


# ---- tokens ----

def test_token_answer_has_contract_shape_and_wrong_password_is_401():
    sim = ScSim()
    status, _, doc = sim.token_doc()
    assert status == 200, doc
    for k in ("access_token", "token_type", "username", "expires_in",
              ".issued", ".expires"):
        assert k in doc, k
    assert doc["token_type"] == "Bearer"
    assert doc["expires_in"] == 3600
    status, _, _ = sim.token_doc(password="wrong")
    assert status == 401


def test_token_expires_after_its_life_and_new_tokens_never_revoke_old():
    sim = ScSim(token_life_s=1.5)
    t1 = sim.token()
    t2 = sim.token()
    assert t1 != t2
    assert _get(sim, "/api/Orders", t1)[0] == 200
    assert _get(sim, "/api/Orders", t2)[0] == 200
    assert _get(sim, "/api/Orders", "not-a-token")[0] == 401
    assert sim.call("GET", "/api/Orders")[0] == 401
    time.sleep(1.7)
    assert _get(sim, "/api/Orders", t1)[0] == 401
    assert _get(sim, "/api/Orders", sim.token())[0] == 200
    assert sim.counters()["unauthorized"] == 3


# ---- rate limit ----

def test_rate_limit_is_a_fixed_window_answering_429_with_reset_time():
    sim = ScSim(rate_budget=3, rate_window_s=2)
    start = datetime.datetime.now(datetime.timezone.utc)
    tok = sim.token()                      # call 1 opens the window
    assert _get(sim, "/api/Orders", tok)[0] == 200
    assert _get(sim, "/api/Orders", tok)[0] == 200
    status, _, doc = _get(sim, "/api/Orders", tok)
    assert status == 429
    assert doc["Error"] == "Too many requests."
    reset = datetime.datetime.strptime(doc["RateLimitResetTime"],
                                       "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)
    assert 1.0 < (reset - start).total_seconds() < 3.0
    assert sim.token_doc()[0] == 429       # the token call counts too
    sim.counters()                         # the control API is exempt
    assert sim.counters()["rate_limited"] == 2
    time.sleep(max(0.0, (reset - datetime.datetime.now(
        datetime.timezone.utc)).total_seconds()) + 0.1)
    assert _get(sim, "/api/Orders", tok)[0] == 200


# ---- orders: paging, filters, time zone ----

def test_orders_pages_of_50_with_total_results_sorted_by_id():
    sim = ScSim(seed=3)
    ids = sim.generate(120)
    tok = sim.token()
    seen = []
    for page in (1, 2, 3):
        status, _, doc = _get(sim, "/api/Orders?model.orderBy=0&"
                              "model.isAscending=true&model.pageSize=50&"
                              "model.pageNumber=%d" % page, tok)
        assert status == 200
        assert doc["TotalResults"] == 120
        seen += [o["ID"] for o in doc["Items"]]
    assert seen == sorted(ids)
    status, _, doc = _get(sim, "/api/Orders?model.pageSize=51", tok)
    assert status == 400
    status, _, doc = _get(sim, "/api/Orders?model.isAscending=false&"
                          "model.pageSize=5", tok)
    assert [o["ID"] for o in doc["Items"]] == sorted(ids)[::-1][:5]
    assert sim.breaches()["count"] == 0


def test_orders_filter_by_ids_company_channel_and_statuses():
    sim = ScSim(companies=[163, 164])
    a = sim.seed_orders([_order(CompanyID=163, OrderSource=4),
                         _order(CompanyID=164, OrderSource=15),
                         _order(CompanyID=163, OrderSource=15,
                                StatusCode=-1, PaymentStatus=20)])
    tok = sim.token()

    def ids(q):
        status, _, doc = _get(sim, "/api/Orders?" + q, tok)
        assert status == 200, doc
        assert doc["TotalResults"] == len(doc["Items"])
        return [o["ID"] for o in doc["Items"]]

    assert ids("model.orderIDs=%d&model.orderIDs=%d" % (a[0], a[2])) == \
        [a[0], a[2]]
    assert ids("model.companyID=164") == [a[1]]
    assert ids("model.companyID=163&model.companyID=164") == a
    assert ids("model.channel=15") == [a[1], a[2]]
    assert ids("model.orderStatus=-1&model.orderStatus=3") == [a[2]]
    assert ids("model.paymentStatus=30&model.companyID=163") == [a[0]]
    assert ids("model.shippingStatus=1") == a
    many = "&".join("model.orderIDs=%d" % i for i in range(1, 52))
    assert _get(sim, "/api/Orders?" + many, tok)[0] == 400


def test_last_updated_filter_reads_us_and_iso_formats():
    sim = ScSim()
    a = sim.seed_orders([_order(LastUpdated="2026-03-01T10:00:00Z"),
                         _order(LastUpdated="2026-03-01T11:30:00Z"),
                         _order(LastUpdated="2026-03-02T09:00:00Z")])
    tok = sim.token()

    def ids(q):
        status, _, doc = _get(sim, "/api/Orders?" + q, tok)
        assert status == 200, doc
        return [o["ID"] for o in doc["Items"]]

    assert ids("model.lastUpdatedFrom=03%2F01%2F2026%2011%3A00") == a[1:]
    assert ids("model.lastUpdatedFrom=03/01/2026+10:00&"
               "model.lastUpdatedTo=03/01/2026+12:00") == a[:2]
    assert ids("model.lastUpdatedFrom=2026-03-01T11:30:00") == a[1:]
    assert ids("model.lastUpdatedFrom=2026-03-01T12:00:00%2B02:00") == a[:]
    assert _get(sim, "/api/Orders?model.lastUpdatedFrom=yesterday",
                tok)[0] == 400


def test_times_are_written_and_read_in_sim_tz_minus_five():
    sim = ScSim(tz="-05:00")
    a = sim.seed_orders([_order(CreatedOn="2026-01-10T12:00:00Z",
                                LastUpdated="2026-01-10T12:30:00.250Z")])
    tok = sim.token()
    doc = _get(sim, "/api/Orders?model.orderIDs=%d" % a[0], tok)[2]
    item = doc["Items"][0]
    assert item["CreatedOn"] == "2026-01-10T07:00:00.000"
    assert item["LastUpdated"] == "2026-01-10T07:30:00.250"
    # A zone-less query time is local too: 07:30 local is 12:30 UTC.
    q = "/api/Orders?model.lastUpdatedFrom=01/10/2026+07:30"
    assert [o["ID"] for o in _get(sim, q, tok)[2]["Items"]] == a
    q = "/api/Orders?model.lastUpdatedFrom=2026-01-10T07:30:00"
    assert [o["ID"] for o in _get(sim, q, tok)[2]["Items"]] == a
    q = "/api/Orders?model.lastUpdatedFrom=01/10/2026+07:31"
    assert _get(sim, q, tok)[2]["Items"] == []


def test_single_order_shape_agrees_with_list_item():
    sim = ScSim(seed=11)
    oid = sim.generate(1, extra_package_share=1.0)[0]
    tok = sim.token()
    item = _get(sim, "/api/Orders?model.orderIDs=%d" % oid, tok)[2]["Items"][0]
    one = _get(sim, "/api/Orders/%d" % oid, tok)[2]
    assert one["OrderID"] == item["ID"]
    d = one["OrderDetails"]
    assert (d["CompanyId"], d["OrderSource"], d["OrderSourceOrderId"],
            d["CreatedOn"]) == (item["CompanyID"], item["OrderSource"],
                                item["OrderSourceOrderID"], item["CreatedOn"])
    s = one["Statuses"]
    assert (s["OrderStatus"], s["PaymentStatus"], s["ShippingStatus"]) == \
        (item["StatusCode"], item["PaymentStatus"], item["ShippingStatus"])
    assert s["IsExported"] is False
    keys = ("ID", "ProductID", "Qty", "LineTotal", "DisplayName")
    assert [{k: x[k] for k in keys} for x in one["OrderItems"]] == \
        [{k: x[k] for k in keys} for x in item["Items"]]
    t = one["TotalInfo"]
    pairs = [("GrandTotal", "GrandTotal"), ("Shipping", "ShippingTotal"),
             ("Tax", "TaxTotal"), ("Handling", "HandlingFee"),
             ("Insurance", "InsuranceTotal"),
             ("Discount", "OrderDiscountsTotal"),
             ("ShippingDiscount", "ShippingDiscountsTotal")]
    for a, b in pairs:
        assert t[a] == item[b], (a, b)
    for k in ("Payments", "ShippingAddress", "BillingAddress", "LastUpdated"):
        assert one[k] == item[k], k
    pk = sim.call("GET", "/api/Orders/Packages?id=%d&pageNumber=1&"
                  "pageSize=50" % oid, token=tok)[2]
    assert one["OrderPackages"] == pk["Results"]
    assert pk["TotalResults"] == len(pk["Results"]) >= 2
    assert _get(sim, "/api/Orders/999", tok)[0] == 400


def test_set_exported_answers_the_ids_it_marked():
    sim = ScSim()
    a = sim.seed_orders([_order(), _order()])
    tok = sim.token()
    before = sim.order(a[0])["LastUpdated"]
    time.sleep(0.01)
    status, _, doc = sim.call("PUT", "/api/Orders/SetExported",
                              {"Orders": [a[0], 42, a[1]],
                               "Exported": True}, token=tok)
    assert status == 200
    assert doc == [a[0], a[1]]
    one = _get(sim, "/api/Orders/%d" % a[0], tok)[2]
    assert one["Statuses"]["IsExported"] is True
    assert sim.order(a[0])["Exported"] is True
    assert sim.order(a[0])["LastUpdated"] > before


def test_write_calls_answer_200_with_an_empty_body():
    sim = ScSim()
    oid = sim.seed_orders([_order(CreatedOn="2026-01-01T00:00:00Z",
                                  Packages=2)])[0]
    pkgs = sim.order(oid)["Packages"]
    sim.seed_products([{"ID": "ABC-1", "ProductName": "Widget"}])
    tok = sim.token()
    ship = _utc(datetime.datetime.now(datetime.timezone.utc) -
                datetime.timedelta(minutes=1))
    calls = [
        ("PUT", "/api/Orders/ShippingStatus",
         {"OrderID": oid, "ShippingCarrier": "UPS", "ShippingService": "Gr",
          "ShipDate": ship, "TrackingNumber": "1Z1"}),
        ("PUT", "/api/Orders/ShippingStatus/SinglePackage",
         {"OrderID": oid, "PackageID": pkgs[1]["ID"], "TrackingNumber": "1Z2",
          "CarrierName": "UPS", "ShippingMethod": "Gr", "ShipDate": ship}),
        ("POST", "/api/Orders/%d/Notes" % oid,
         {"Message": "Tracking: 1Z3", "Category": 0}),
        ("PUT", "/api/Catalog/BasicInfo",
         {"ProductID": "ABC-1", "SitePrice": 12.50}),
        ("PUT", "/api/Products/CustomColumns",
         {"ProductID": "ABC-1",
          "CustomColumns": [{"ColumnName": "UOM", "Value": "EA"}]}),
        ("PUT", "/api/Inventory/SetPhysicalInventory",
         {"ProductID": "ABC-1", "WarehouseID": 1, "PhysicalQty": 7}),
    ]
    for method, path, body in calls:
        status, _, data = sim.call(method, path, body, token=tok, raw=True)
        assert (status, data) == (200, b""), (path, status, data)
    assert sim.breaches()["count"] == 0


# ---- packages and tracking ----

def test_tracking_writes_packages_and_marks_whole_order_fully_shipped():
    sim = ScSim()
    oid = sim.seed_orders([_order(CreatedOn="2026-01-01T00:00:00Z",
                                  Packages=3)])[0]
    tok = sim.token()
    pk = sim.call("GET", "/api/Orders/Packages?id=%d&pageNumber=1&"
                  "pageSize=2" % oid, token=tok)[2]
    assert pk["TotalResults"] == 3 and len(pk["Results"]) == 2
    ids = [p["ID"] for p in sim.order(oid)["Packages"]]
    assert ids == sorted(ids)
    t1 = _utc(datetime.datetime.now(datetime.timezone.utc) -
              datetime.timedelta(hours=1))
    body = {"OrderID": oid, "ShippingCarrier": "UPS",
            "ShippingService": "Ground", "ShipDate": t1,
            "TrackingNumber": "1ZAAA"}
    assert sim.call("PUT", "/api/Orders/ShippingStatus", body,
                    token=tok)[0] == 200
    st = sim.order(oid)
    assert st["ShippingStatus"] == 3
    assert st["Packages"][0]["TrackingNumber"] == "1ZAAA"
    assert st["Packages"][1]["TrackingNumber"] == ""
    first_ship = st["ShipDate"]
    updated = st["LastUpdated"]
    time.sleep(0.01)
    assert sim.call("PUT", "/api/Orders/ShippingStatus", body,
                    token=tok)[0] == 200
    assert sim.order(oid)["LastUpdated"] == updated   # same values: no change
    sp = {"OrderID": oid, "PackageID": ids[1], "TrackingNumber": "1ZBBB",
          "CarrierName": "FedEx", "ShippingMethod": "Home",
          "ShipDate": _utc(datetime.datetime.now(datetime.timezone.utc))}
    assert sim.call("PUT", "/api/Orders/ShippingStatus/SinglePackage", sp,
                    token=tok)[0] == 200
    st = sim.order(oid)
    assert st["Packages"][1]["TrackingNumber"] == "1ZBBB"
    assert st["Packages"][1]["CarrierName"] == "FedEx"
    assert st["ShipDate"] == first_ship              # first call set it
    assert st["AllTrackingNumbers"] == ["1ZAAA", "1ZBBB"]
    assert st["TrackingNumber"] == "1ZAAA"
    sp["PackageID"] = 1
    assert sim.call("PUT", "/api/Orders/ShippingStatus/SinglePackage", sp,
                    token=tok)[0] == 400


def test_ship_date_before_created_on_or_after_the_clock_is_400():
    sim = ScSim()
    oid = sim.seed_orders([_order(CreatedOn="2026-01-01T12:00:00Z")])[0]
    tok = sim.token()
    body = {"OrderID": oid, "ShippingCarrier": "UPS",
            "ShippingService": "Ground", "TrackingNumber": "1Z"}
    for bad in ("2026-01-01T11:59:00Z", _utc(datetime.datetime.now(
            datetime.timezone.utc) + datetime.timedelta(minutes=5))):
        body["ShipDate"] = bad
        status, _, doc = sim.call("PUT", "/api/Orders/ShippingStatus", body,
                                  token=tok)
        assert status == 400, (bad, doc)
        assert "ShipDate" in doc["Message"]
    body["ShipDate"] = "2026-01-01T12:01:00Z"
    assert sim.call("PUT", "/api/Orders/ShippingStatus", body,
                    token=tok)[0] == 200
    assert sim.breaches()["count"] == 0
    del body["OrderID"]
    assert sim.call("PUT", "/api/Orders/ShippingStatus", body,
                    token=tok)[0] == 400


def test_single_package_without_package_id_overwrites_first_and_is_breach():
    sim = ScSim()
    oid = sim.seed_orders([_order(CreatedOn="2026-01-01T00:00:00Z",
                                  Packages=[{"TrackingNumber": "1ZOLD"},
                                            {}])])[0]
    tok = sim.token()
    sp = {"OrderID": oid, "TrackingNumber": "1ZNEW", "CarrierName": "UPS",
          "ShippingMethod": "Ground"}
    assert sim.call("PUT", "/api/Orders/ShippingStatus/SinglePackage", sp,
                    token=tok)[0] == 200
    st = sim.order(oid)
    assert st["Packages"][0]["TrackingNumber"] == "1ZNEW"
    assert st["ShippingStatus"] == 3
    b = sim.breaches()
    assert b["count"] == 1
    assert "PackageID" in b["breaches"][0]["reason"]
    assert b["breaches"][0]["method"] == "PUT"


def test_note_needs_a_message_and_a_known_order():
    sim = ScSim()
    oid = sim.seed_orders([_order()])[0]
    tok = sim.token()
    path = "/api/Orders/%d/Notes" % oid
    assert sim.call("POST", path, {"Message": "", "Category": 0},
                    token=tok)[0] == 400
    assert sim.call("POST", "/api/Orders/1/Notes", {"Message": "x"},
                    token=tok)[0] == 400
    for _ in range(2):   # a repeated note call adds a second note
        assert sim.call("POST", path, {"Message": "Tracking: 1Z9, 1Z8",
                                       "Category": 0}, token=tok)[0] == 200
    notes = sim.order(oid)["Notes"]
    assert [n["Message"] for n in notes] == ["Tracking: 1Z9, 1Z8"] * 2


# ---- contract enforcement from the Swagger ----

def _breach_reasons(sim):
    return [b["reason"] for b in sim.breaches()["breaches"]]


def test_unknown_path_or_method_is_400_and_a_breach():
    sim = ScSim()
    tok = sim.token()
    assert _get(sim, "/api/Orderz", tok)[0] == 400
    assert sim.call("PATCH", "/api/Orders", {}, token=tok)[0] == 400
    assert _get(sim, "/api/orders", tok)[0] == 400   # case counts
    assert _get(sim, "/api/Orders/abc", tok)[0] == 400
    r = _breach_reasons(sim)
    assert r == ["unknown path", "method not defined for this path",
                 "unknown path", "path parameter id is not an integer"], r


def test_query_parameter_not_listed_repeated_or_missing_is_a_breach():
    sim = ScSim()
    oid = sim.seed_orders([_order()])[0]
    tok = sim.token()
    assert _get(sim, "/api/Orders?model.companyId=163", tok)[0] == 400
    assert _get(sim, "/api/Orders?model.channel=1&model.channel=2",
                tok)[0] == 400
    assert _get(sim, "/api/Orders?model.channel=Amazon", tok)[0] == 400
    assert _get(sim, "/api/Orders/Packages?id=%d&pageNumber=1" % oid,
                tok)[0] == 400
    r = _breach_reasons(sim)
    assert "not defined" in r[0] and "model.companyId" in r[0]
    assert "repeated" in r[1]
    assert "wrong type" in r[2]
    assert "required" in r[3] and "pageSize" in r[3]
    # listed but not simulated: accepted and ignored
    assert _get(sim, "/api/Orders?model.keyword=x", tok)[0] == 200
    assert sim.breaches()["count"] == 4


def test_body_fields_checked_at_any_depth_required_and_typed():
    sim = ScSim()
    sim.seed_products([{"ID": "ABC-1", "ProductName": "Widget"}])
    tok = sim.token()
    cc = "/api/Products/CustomColumns"
    bad = [
        ("PUT", cc, {"ProductID": "ABC-1", "CustomColumns": [
            {"ColumnName": "UOM", "Value": "EA", "Extra": 1}]},
         "CustomColumns[0].Extra: field not defined"),
        ("PUT", cc, {"ProductID": "ABC-1",
                     "CustomColumns": [{"Value": "EA"}]},
         "CustomColumns[0].ColumnName: required field missing"),
        ("PUT", "/api/Inventory/SetPhysicalInventory",
         {"ProductID": "ABC-1", "PhysicalQty": "7"},
         "PhysicalQty: expected an integer"),
        ("PUT", "/api/Orders/SetExported", {"Orders": [1]},
         "Exported: required field missing"),
        ("POST", "/api/token", {"Username": "scbridge"},
         "Password: required field missing"),
        ("POST", "/api/Products", {"CompanyId": 0, "ProductSKU": "X",
                                   "ProductName": "X",
                                   "ProductTypeName": "T"},
         "CompanyId: below the minimum"),
        ("PUT", "/api/Orders/SetExported", "not json", "body: not valid JSON"),
    ]
    for method, path, body, why in bad:
        status, _, doc = sim.call(method, path, body, token=tok)
        assert status == 400, (path, body)
        assert doc["Message"] == why, (doc, why)
    assert _breach_reasons(sim) == [b[3] for b in bad]


def test_obsolete_operation_is_served_and_counted_as_a_breach():
    sim = ScSim()
    sim.seed_products([{"ID": "ABC-1", "ProductName": "Widget"}])
    tok = sim.token()
    status, _, data = sim.call("PUT", "/api/Products/ABC-1/CustomColumns",
                               {"ColumnName": "UOM", "Value": "EA"},
                               token=tok, raw=True)
    assert status == 200
    cols = sim.product("ABC-1")["CustomColumns"]
    assert cols == [{"ColumnName": "UOM", "Value": "EA"}]
    b = sim.breaches()
    assert b["count"] == 1
    assert b["breaches"][0]["reason"] == "obsolete operation"
    assert b["breaches"][0]["path"] == "/rest/api/Products/ABC-1/CustomColumns"


# ---- products ----

def test_product_create_and_basic_info_enforce_simulator_limits():
    sim = ScSim()
    tok = sim.token()

    def create(**kw):
        body = {"CompanyId": 163, "ProductSKU": "A/B#1 ?&+",
                "ProductName": "Widget", "ProductTypeName": "Hardware"}
        body.update(kw)
        return sim.call("POST", "/api/Products", body, token=tok)

    assert create(ProductName="x" * 251)[0] == 400
    assert create(ProductName="é" * 250, UPC="036000291453")[0] == 400
    assert create(UPC="12345")[0] == 400
    status, _, doc = create(ProductName="é" * 250, UPC="036000291452",
                            DefaultPrice=9.99)
    assert (status, doc) == (200, "A/B#1 ?&+")
    assert create()[0] == 400                    # the SKU exists
    bi = "/api/Catalog/BasicInfo"
    assert sim.call("PUT", bi, {"ProductID": "A/B#1 ?&+",
                                "LongDescription": "x" * 65537},
                    token=tok)[0] == 400
    assert sim.call("PUT", bi, {"ProductID": "A/B#1 ?&+",
                                "LongDescription": "x" * 65536,
                                "UPC": "00012345600012"}, token=tok)[0] == 200
    assert sim.call("PUT", bi, {"ProductID": "nope"}, token=tok)[0] == 400
    assert sim.call("PUT", "/api/Products/CustomColumns",
                    {"ProductID": "nope", "CustomColumns": []},
                    token=tok)[0] == 400
    assert sim.call("PUT", "/api/Inventory/SetPhysicalInventory",
                    {"ProductID": "nope", "PhysicalQty": 1},
                    token=tok)[0] == 400
    q = "/api/Catalog?model.sKU=A%2FB%231+%3F%26%2B&model.pageNumber=1&" \
        "model.pageSize=50"
    status, _, doc = _get(sim, q, tok)
    assert status == 200 and doc["TotalResults"] == 1
    item = doc["Items"][0]
    assert item["ID"] == "A/B#1 ?&+"
    assert item["SitePrice"] == 9.99 and item["UPC"] == "00012345600012"
    assert item["ProductType"] == "Hardware"
    assert _get(sim, "/api/Catalog?model.sKU=a%2Fb%231+%3F%26%2B",
                tok)[2]["TotalResults"] == 0
    assert sim.breaches()["count"] == 0


def test_catalog_shows_physical_reserved_and_custom_columns():
    sim = ScSim()
    sim.seed_products([{"ID": "ABC-1", "ProductName": "Widget",
                        "PhysicalQty": 10}])
    sim.seed_orders([_order()])     # 2 x ABC-1, InProcess, unshipped
    tok = sim.token()
    sim.call("PUT", "/api/Products/CustomColumns",
             {"ProductID": "ABC-1", "CustomColumns": [
                 {"ColumnName": "UOM", "Value": "EA"},
                 {"ColumnName": "IMG", "Value": "http://x/y.png"}]},
             token=tok)
    sim.call("PUT", "/api/Inventory/SetPhysicalInventory",
             {"ProductID": "ABC-1", "WarehouseID": 2, "PhysicalQty": 5},
             token=tok)
    item = _get(sim, "/api/Catalog?model.sKU=ABC-1", tok)[2]["Items"][0]
    assert (item["PhysicalQty"], item["ReservedQty"],
            item["InventoryAvailableQty"]) == (15, 2, 13)
    assert item["CustomColumns"] == [
        {"ColumnName": "UOM", "Value": "EA"},
        {"ColumnName": "IMG", "Value": "http://x/y.png"}]
    assert sim.product("ABC-1")["Warehouses"] == {"1": 10, "2": 5}


# ---- seeding and control ----

def test_generated_totals_follow_the_formula_except_the_broken_share():
    sim = ScSim(seed=5)
    sim.generate(300, broken_share=0.2, skus=["ABC-1", "ABC-2"],
                 companies=[163, 170], channels=[4, 15])
    broken = 0
    for o in sim.orders():
        lines = sum(_cents(x["LineTotal"]) for x in o["Items"])
        assert 1 <= len(o["Items"]) <= 3
        assert {x["ProductID"] for x in o["Items"]} <= {"ABC-1", "ABC-2"}
        assert o["CompanyID"] in (163, 170) and o["OrderSource"] in (4, 15)
        want = (lines + _cents(o["ShippingTotal"]) +
                _cents(o["HandlingFee"]) + _cents(o["InsuranceTotal"]) +
                _cents(o["TaxTotal"]) - abs(_cents(o["OrderDiscountsTotal"]))
                - abs(_cents(o["ShippingDiscountsTotal"])))
        if _cents(o["GrandTotal"]) != want:
            broken += 1
        assert o["Payments"] and "TransactionReferenceNumber" in \
            o["Payments"][0]
    assert 30 <= broken <= 90, broken


def test_generation_is_deterministic_for_a_seed():
    def snapshot(sim):
        out = []
        for o in sim.orders():
            for k in ("CreatedOn", "TimeOfOrder", "LastUpdated", "ShipDate"):
                o.pop(k, None)
            for p in o["Packages"]:
                p.pop("ShipDate", None)
            out.append(o)
        return out
    a = ScSim(seed=9, generate=25)
    b = ScSim(seed=9, generate=25)
    c = ScSim(seed=10, generate=25)
    assert snapshot(a) == snapshot(b)
    assert snapshot(a) != snapshot(c)


def test_control_changes_move_last_updated_and_ship_outside():
    sim = ScSim()
    oid = sim.seed_orders([_order(PaymentStatus=20)])[0]
    last = sim.order(oid)["LastUpdated"]
    steps = [(sim.charge, "PaymentStatus", 30), (sim.cancel, "StatusCode", -1),
             (sim.void, "StatusCode", 999)]
    for fn, key, want in steps:
        time.sleep(0.01)
        st = fn(oid)
        assert st[key] == want
        assert st["LastUpdated"] > last
        last = st["LastUpdated"]
    time.sleep(0.01)
    st = sim.set_order(oid, recompute_total=True, StatusCode=2,
                       Items=[{"ProductID": "ABC-9", "Qty": 1,
                               "LineTotal": 3.00, "DisplayName": "Z"}])
    assert _cents(st["GrandTotal"]) == 300 + 500 + 165
    assert st["LastUpdated"] > last
    st = sim.ship(oid, "1ZOUT", carrier="FedEx", service="Home",
                  complete=True)
    assert (st["ShippingStatus"], st["StatusCode"]) == (3, 3)
    assert st["TrackingNumber"] == "1ZOUT"
    assert st["AllTrackingNumbers"] == ["1ZOUT"]
    assert st["ShippingCarrier"] == "FedEx" and st["ShipDate"]
    status, _, _ = request("POST", sim.base + "/_sim/orders",
                           {"orders": [{"Bogus": 1}]})
    assert status == 400


def test_request_log_counts_calls_by_endpoint():
    sim = ScSim()
    oid = sim.seed_orders([_order()])[0]
    tok = sim.token()
    for _ in range(3):
        _get(sim, "/api/Orders?model.orderIDs=%d" % oid, tok)
    _get(sim, "/api/Orders/%d" % oid, tok)
    log = sim.requests()
    assert log["total"] == 5
    assert log["by_endpoint"]["GET /api/Orders"] == 3
    assert log["by_endpoint"]["GET /api/Orders/{id}"] == 1
    assert log["by_endpoint"]["POST /api/token"] == 1
    e = log["entries"][1]
    assert (e["method"], e["path"], e["status"]) == ("GET", "/rest/api/Orders",
                                                     200)
    assert e["query"] == "model.orderIDs=%d" % oid
    assert sim.counters()["calls_total"] == 5


# ---- faults (the shared HTTP core) ----

def test_faults_inject_errors_latency_drops_and_timeouts():
    sim = ScSim()
    tok = sim.token()
    sim.faults([{"path_prefix": "/rest/api/Orders", "error_rate": 1.0,
                 "error_status": 503, "retry_after_s": 2}], seed=1)
    status, hdrs, _ = _get(sim, "/api/Orders", tok)
    assert status == 503 and hdrs.get("retry-after") == "2"
    assert sim.counters()["calls_total"] == 1   # only the token call

    sim.faults([{"method": "GET", "latency_ms": 300}])
    t = time.monotonic()
    assert _get(sim, "/api/Orders", tok)[0] == 200
    assert time.monotonic() - t >= 0.3

    sim.faults([{"drop_rate": 1.0}])
    try:
        _get(sim, "/api/Orders", tok)
        raise AssertionError("a dropped request was answered")
    except (http.client.RemoteDisconnected, ConnectionError):
        pass

    sim.faults([{"timeout_rate": 1.0}])
    t = time.monotonic()
    try:
        sim.call("GET", "/api/Orders", token=tok, timeout=0.5)
        raise AssertionError("a held request was answered")
    except (socket.timeout, TimeoutError):
        pass
    assert time.monotonic() - t < 2
    st = sim.faults_state()
    assert st["rules"][0]["fired"]["timeout"] == 1
    assert sim.counters()["calls_total"] >= 1     # control still served
    sim.faults([])
    assert _get(sim, "/api/Orders", tok)[0] == 200


def test_fault_can_answer_429_in_sellercloud_shape():
    sim = ScSim()
    tok = sim.token()
    body = json.dumps({"Error": "Too many requests.",
                       "RateLimitResetTime": "2030-01-01T00:00:00Z"})
    sim.faults([{"path_prefix": "/rest/api/Catalog", "error_rate": 1.0,
                 "error_status": 429, "error_body": body}])
    status, _, doc = _get(sim, "/api/Catalog?model.sKU=X", tok)
    assert status == 429 and doc["Error"] == "Too many requests."
    assert _get(sim, "/api/Orders", tok)[0] == 200
    assert sim.faults_state()["rules"][0]["fired"]["error"] == 1


def test_fault_rates_follow_the_seed():
    sim = ScSim()
    tok = sim.token()

    def run():
        sim.faults([{"path_prefix": "/rest/api/Orders", "error_rate": 0.5,
                     "error_status": 500}], seed=42)
        return [_get(sim, "/api/Orders", tok)[0] for _ in range(40)]
    a = run()
    assert run() == a
    assert 8 <= a.count(500) <= 32
    assert set(a) == {200, 500}


# ---- relay mode ----

def _verify(headers, body):
    sig = harness.sign(harness.SC_KEY, headers["webhook-id"],
                       int(headers["webhook-timestamp"]), body)
    return sig in headers["webhook-signature"].split(" ")


def test_relay_sends_signed_sellercloud_notifications():
    recv = _Receiver()
    try:
        sim = ScSim(relay_url=recv.url, relay_secret=harness.SC_SECRET,
                    companies=[163, 164])
        a = sim.seed_orders([_order(CompanyID=163), _order(CompanyID=164),
                             _order(CompanyID=163)])
        sim.ship(a[1], "1Z1")
        sim.cancel(a[0])
        harness.wait_for(lambda: len(recv.got) >= 4, what="4 notifications")
        time.sleep(0.2)
        assert len(recv.got) == 4
        docs = []
        for headers, body in recv.got:
            assert _verify(headers, body), headers
            assert headers["content-type"].startswith("application/json")
            assert abs(int(headers["webhook-timestamp"]) - time.time()) < 30
            docs.append(json.loads(body))
        docs.sort(key=lambda d: (d["type"], d["company_id"]))
        assert docs == [
            {"type": "order.created", "company_id": 163,
             "order_ids": [a[0], a[2]]},
            {"type": "order.created", "company_id": 164, "order_ids": [a[1]]},
            {"type": "order.shipped", "company_id": 164, "order_ids": [a[1]]},
            {"type": "order.updated", "company_id": 163, "order_ids": [a[0]]},
        ]
        ids = {h["webhook-id"] for h, _ in recv.got}
        assert len(ids) == 4
    finally:
        recv.close()


def test_relay_silently_drops_its_configured_share():
    recv = _Receiver()
    try:
        sim = ScSim(relay_url=recv.url, relay_secret=harness.SC_SECRET,
                    relay_drop=0.5, seed=4)
        ids = sim.seed_orders([_order() for _ in range(40)], notify=False)
        for oid in ids:
            sim.charge(oid)
        st = sim.wait_relay_idle()
        time.sleep(0.2)
        assert st["posted"] == 40
        assert st["dropped"] + len(recv.got) == 40
        assert 8 <= st["dropped"] <= 32, st
        assert st["delivered"] == len(recv.got)
        assert all(_verify(h, b) for h, b in recv.got)
    finally:
        recv.close()


def test_relay_can_deliver_each_notification_twice_under_one_id():
    recv = _Receiver()
    try:
        sim = ScSim(relay_url=recv.url, relay_secret=harness.SC_SECRET,
                    relay_dup=1.0)
        sim.seed_orders([_order()])
        harness.wait_for(lambda: len(recv.got) >= 2, what="2 deliveries")
        time.sleep(0.2)
        assert len(recv.got) == 2
        (h1, b1), (h2, b2) = recv.got
        assert h1["webhook-id"] == h2["webhook-id"] and b1 == b2
        assert _verify(h1, b1) and _verify(h2, b2)
    finally:
        recv.close()
