# SPDX-License-Identifier: MIT
"""The operator surface: the admin page and the JSON admin API.

Rules from contracts/operations.md ("Admin access", "Admin API"): every
/admin/api/ route needs the bearer token, a token in the query string is
refused, ids and parameters are checked, pages run on opaque cursors, and
each admin action leaves a history event and a log line with the request
id. The import flow runs against both simulators.
"""
import json
import os
import re
import subprocess
import sys
import time

import harness
from sim_ddi import DdiSim
from sim_sc import ScSim

P = "scb:v1:"
COMPANY = 163
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ORDER_KEYS = {"sc_order_id", "company_id", "channel", "channel_order_id",
              "reference", "state", "reason", "ddi_order_no", "tracking",
              "updated_at"}
DEAD_KEYS = {"id", "type", "sc_order_id", "company_id", "reason", "error",
             "attempts", "failed_at"}
STATES = ["seen", "awaiting_payment", "importing", "imported", "shipped",
          "cancelled", "needs_attention"]

# Every admin API route, with a path that names something plausible.
API_ROUTES = [
    ("GET", "/admin/api/stats"),
    ("GET", "/admin/api/orders?state=seen"),
    ("GET", "/admin/api/orders?ddi_order_no=SO1"),
    ("GET", "/admin/api/orders/5012001"),
    ("POST", "/admin/api/orders/5012001/replay"),
    ("GET", "/admin/api/dead-letters"),
    ("POST", "/admin/api/dead-letters/1733072640123-0/retry"),
    ("POST", "/admin/api/dead-letters/1733072640123-0/discard"),
]


def bearer(token=harness.ADMIN_TOKEN, req_id=None):
    h = {"Authorization": "Bearer " + token}
    if req_id:
        h["X-Request-Id"] = req_id
    return h


def api(svc, method, path, req_id=None):
    return harness.http_json(method, svc.admin + path, None,
                             bearer(req_id=req_id))


def service(extra=None):
    redis = harness.Redis()
    env = harness.base_env(redis.url, extra=dict({
        "SCBRIDGE_POLL_ORDERS": "default=24h",
        "SCBRIDGE_IMPORT_SINCE": "2020-01-01T00:00:00Z",
    }, **(extra or {})))
    return redis, harness.Service(env)


def now_ms():
    return int(time.time() * 1000)


def seed_order(redis, oid, state, score, reason="", ddi_no="", extra=()):
    fields = ["id", oid, "state", state, "reason", reason, "company_id",
              COMPANY, "channel", "Amazon", "channel_order_id",
              "113-%d" % oid, "reference", "SC-%d-%d" % (COMPANY, oid),
              "ddi_order_no", ddi_no, "updated_at", score] + list(extra)
    redis.cmd("HSET", P + "order:%d" % oid, *fields)
    redis.cmd("ZADD", P + "orders:state:" + state, score, oid)


def check_order_shape(doc, with_history):
    keys = ORDER_KEYS | ({"history"} if with_history else set())
    assert set(doc) == keys, sorted(doc)
    assert isinstance(doc["sc_order_id"], int)
    assert TIME_RE.match(doc["updated_at"]), doc["updated_at"]
    assert isinstance(doc["tracking"], list)
    assert doc["reason"] is None or isinstance(doc["reason"], str)
    if with_history:
        for h in doc["history"]:
            assert set(h) == {"at", "event", "detail"}, h
            assert TIME_RE.match(h["at"]) and isinstance(h["detail"], str)


def check_401(status, hdrs, doc, what):
    assert status == 401, (what, status, doc)
    assert doc == {"error": "unauthorized"}, (what, doc)
    assert hdrs.get("www-authenticate") == "Bearer", (what, hdrs)


# ---- access ----

def test_every_admin_api_route_needs_the_token_and_refuses_query_tokens():
    redis, svc = service()
    tok = harness.ADMIN_TOKEN
    wrong = "x" * len(tok)
    for method, path in API_ROUTES:
        url = svc.admin + path
        sep = "&" if "?" in path else "?"
        cases = [
            ("no header", url, {}),
            ("wrong token", url, bearer(wrong)),
            ("prefix of the token", url, bearer(tok[:-1])),
            ("basic scheme", url, {"Authorization": "Basic " + tok}),
            ("token in query", url + sep + "token=" + tok, {}),
            ("valid header, token in query", url + sep + "token=" + tok,
             bearer()),
            ("valid header, access_token in query",
             url + sep + "access_token=" + tok, bearer()),
        ]
        for what, u, h in cases:
            status, hdrs, doc = harness.http_json(method, u, None, h)
            check_401(status, hdrs, doc, (method, path, what))
    # The valid token in the header alone is accepted.
    status, _, doc = api(svc, "GET", "/admin/api/stats")
    assert status == 200, (status, doc)
    # Query strings of /admin requests are never logged: the token sent
    # in them above appears nowhere in the log.
    log = svc.proc.log()
    assert tok not in log
    assert "access_token" not in log and "token=" not in log


def test_admin_listener_alone_serves_the_page_and_api():
    redis, svc = service({
        "SCBRIDGE_ADMIN_LISTEN": "127.0.0.1:%d" % harness.free_port()})
    assert svc.admin != svc.base
    for path in ["/admin/", "/admin/static/app.js"]:
        assert harness.http("GET", svc.admin + path)[0] == 200, path
        assert harness.http("GET", svc.base + path)[0] == 404, path
    assert api(svc, "GET", "/admin/api/stats")[0] == 200
    status, _, doc = harness.http_json("GET", svc.base + "/admin/api/stats",
                                       None, bearer())
    assert (status, doc) == (404, {"error": "not_found"}), status


def test_page_is_served_without_token_and_matches_its_sources():
    redis, svc = service()
    here = os.path.join(harness.ROOT, "service", "admin")
    for path, name, ctype in [
            ("/admin/", "index.html", "text/html"),
            ("/admin/static/app.js", "app.js", "text/javascript"),
            ("/admin/static/style.css", "style.css", "text/css")]:
        status, hdrs, body = harness.http("GET", svc.admin + path)
        assert status == 200, (path, status)
        assert hdrs["content-type"].startswith(ctype), hdrs
        assert "connect-src 'self'" in hdrs["content-security-policy"]
        with open(os.path.join(here, name), "rb") as f:
            assert body == f.read(), "%s differs from service/admin/%s" % (
                path, name)
    page = harness.http("GET", svc.admin + "/admin/")[2].decode()
    assert "http://" not in page and "https://" not in page
    for path in ["/admin/static/nope.js", "/admin/static/.hidden",
                 "/admin/static/"]:
        assert harness.http("GET", svc.admin + path)[0] == 404, path
    status, hdrs, _ = harness.http("GET", svc.admin + "/admin")
    assert status == 308 and hdrs["location"] == "/admin/"
    embed = os.path.join(here, "embed.py")
    r = subprocess.run([sys.executable, embed, "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_bad_ids_and_parameters_answer_400_and_unknown_ones_404():
    redis, svc = service()
    for bad in ["abc", "0", "-1", "1.5", "+7", "1e3",
                "99999999999999999999"]:
        for method, fmt in [("GET", "/admin/api/orders/%s"),
                            ("POST", "/admin/api/orders/%s/replay")]:
            status, _, doc = api(svc, method, fmt % bad)
            assert (status, doc) == (400, {"error": "bad_request"}), \
                (method, bad, status, doc)
    for method, path in [("GET", "/admin/api/orders/424242"),
                         ("POST", "/admin/api/orders/424242/replay"),
                         ("GET", "/admin/api/orders?ddi_order_no=SO404"),
                         ("POST", "/admin/api/dead-letters/nope/retry"),
                         ("POST", "/admin/api/dead-letters/1-0/retry"),
                         ("POST", "/admin/api/dead-letters/1-0/discard"),
                         ("POST", "/admin/api/dead-letters/1-0-0/discard")]:
        status, _, doc = api(svc, method, path)
        assert (status, doc) == (404, {"error": "not_found"}), \
            (path, status, doc)
    for path in ["/admin/api/orders",
                 "/admin/api/orders?state=seen&ddi_order_no=SO1",
                 "/admin/api/orders?state=bogus",
                 "/admin/api/orders?state=seen&state=seen",
                 "/admin/api/orders?state=seen&limit=0",
                 "/admin/api/orders?state=seen&limit=501",
                 "/admin/api/orders?state=seen&limit=ten",
                 "/admin/api/orders?state=seen&cursor=garbage",
                 "/admin/api/orders?state=seen&cursor=1.2.3",
                 "/admin/api/orders?ddi_order_no=",
                 "/admin/api/orders?ddi_order_no=" + "S" * 65,
                 "/admin/api/dead-letters?limit=0",
                 "/admin/api/dead-letters?limit=501",
                 "/admin/api/dead-letters?cursor=garbage"]:
        status, _, doc = api(svc, "GET", path)
        assert (status, doc) == (400, {"error": "bad_request"}), \
            (path, status, doc)
    status, hdrs, _ = api(svc, "POST", "/admin/api/stats")
    assert status == 405 and "GET" in hdrs.get("allow", ""), status
    assert api(svc, "GET", "/admin/api/nothing")[0] == 404


def test_redis_unreachable_answers_503_after_the_token_check():
    redis, svc = service()
    redis.stop()
    for method, path in API_ROUTES:
        status, hdrs, doc = api(svc, method, path)
        assert (status, doc) == (503, {"error": "unavailable"}), \
            (path, status, doc)
        status, hdrs, doc = harness.http_json(method, svc.admin + path)
        check_401(status, hdrs, doc, path)


# ---- orders and dead letters, seeded ----

def test_orders_by_state_page_newest_first_on_opaque_cursors():
    redis, svc = service()
    base = now_ms() - 3600000
    expected = []
    # 230 orders; every fifth shares its score with the next, so pages
    # must also order equal scores (Redis: members by descending bytes).
    script = ("for i = 1, #ARGV, 2 do\n"
              "  local id, sc = ARGV[i], ARGV[i + 1]\n"
              "  redis.call('HSET', KEYS[1] .. 'order:' .. id, 'id', id,\n"
              "    'state', 'imported', 'company_id', '163', 'channel',\n"
              "    'eBay', 'ddi_order_no', 'SO' .. id, 'updated_at', sc,\n"
              "    'tracking', '[{\"number\":\"1Z' .. id .. '\",'\n"
              "    .. '\"carrier\":\"UPS\",\"service\":\"Ground\",'\n"
              "    .. '\"shipment_id\":\"SH' .. id .. '\",'\n"
              "    .. '\"pushed_at\":null}]')\n"
              "  redis.call('ZADD', KEYS[1] .. 'orders:state:imported',\n"
              "    sc, id)\n"
              "end\n"
              "return 1\n")
    args = []
    for i in range(230):
        oid = 9000 + i * 7
        score = base + (i // 2) * 10 if i % 5 == 0 else base + i * 10 + 3
        args += [str(oid), str(score)]
        expected.append((score, str(oid)))
    redis.cmd("EVAL", script, 1, P, *args)
    expected.sort(reverse=True)
    want = [int(oid) for _, oid in expected]

    status, _, doc = api(svc, "GET", "/admin/api/orders?state=imported")
    assert status == 200 and len(doc["items"]) == 100, status
    got, cursor, pages = [], None, 0
    while True:
        q = "/admin/api/orders?state=imported&limit=90"
        if cursor:
            q += "&cursor=" + cursor
        status, _, doc = api(svc, "GET", q)
        assert status == 200, (status, doc)
        assert set(doc) == {"items", "next_cursor"}
        for o in doc["items"]:
            check_order_shape(o, with_history=False)
            assert o["state"] == "imported" and o["reason"] is None
            assert o["tracking"] == [{
                "number": "1Z%d" % o["sc_order_id"], "carrier": "UPS",
                "service": "Ground",
                "shipment_id": "SH%d" % o["sc_order_id"],
                "pushed_at": None}], o["tracking"]
        got += [o["sc_order_id"] for o in doc["items"]]
        pages += 1
        cursor = doc["next_cursor"]
        if cursor is None:
            break
    assert pages == 3, pages
    assert got == want
    redis.cmd("SET", P + "ddi:SO9007", "9007")  # orderstate_set's index
    status, _, doc = api(svc, "GET", "/admin/api/orders?ddi_order_no=SO9007")
    assert status == 200 and doc["sc_order_id"] == 9007, doc
    check_order_shape(doc, with_history=True)


def dead_letter(redis, type_, key, payload, reason, failed_ms, v="1"):
    return redis.cmd("XADD", P + "jobs:dead", "*", "v", v, "id",
                     "j%d" % failed_ms, "type", type_, "key", key,
                     "payload", json.dumps(payload), "accepted",
                     failed_ms - 1000, "attempts", "3", "waited", "0",
                     "error", "last error text", "reason", reason,
                     "failed_at", failed_ms)


def test_dead_letters_page_oldest_first_and_discard_keeps_state():
    redis, svc = service()
    t = now_ms()
    seed_order(redis, 5012001, "needs_attention", t,
               reason="UNKNOWN_PRODUCT: ABC-9 is not a DDI item")
    ids = [dead_letter(redis, "order.import", "order:5012001",
                       {"v": 1, "company_id": 163, "order_id": 5012001,
                        "source": "webhook"},
                       "UNKNOWN_PRODUCT: ABC-9 is not a DDI item", t)]
    redis.cmd("SET", P + "jobs:dead:key:order:5012001", ids[0])
    ids.append(dead_letter(redis, "tracking.push", "shipment:SH1",
                           {"v": 1, "shipment": {
                               "reference": "SC-164-777"}},
                           "UNKNOWN_REFERENCE: SC-164-777", t + 1))
    ids.append(dead_letter(redis, "item.sync", "item:X", {"v": 1},
                           "SC_REJECTED: no", t + 2))
    for i in range(4):
        ids.append(dead_letter(redis, "item.sync", "item:%d" % i,
                               {"v": 1}, "SC_REJECTED: %d" % i, t + 3 + i))
    got, cursor = [], None
    while True:
        q = "/admin/api/dead-letters?limit=3"
        if cursor:
            q += "&cursor=" + cursor
        status, _, doc = api(svc, "GET", q)
        assert status == 200, (status, doc)
        assert len(doc["items"]) <= 3
        got += doc["items"]
        cursor = doc["next_cursor"]
        if cursor is None:
            break
    assert [d["id"] for d in got] == ids
    for d in got:
        assert set(d) == DEAD_KEYS, d
        assert TIME_RE.match(d["failed_at"]) and d["attempts"] == 3
        assert d["error"] == "last error text"
    assert (got[0]["type"], got[0]["sc_order_id"], got[0]["company_id"]) \
        == ("order.import", 5012001, 163)
    assert got[0]["reason"].startswith("UNKNOWN_PRODUCT:")
    assert (got[1]["sc_order_id"], got[1]["company_id"]) == (777, 164)
    assert (got[2]["sc_order_id"], got[2]["company_id"]) == (None, None)

    status, _, doc = api(svc, "POST", "/admin/api/dead-letters/%s/discard"
                         % ids[0], req_id="adm-discard-1")
    assert (status, doc) == (200, {"id": ids[0], "status": "discarded"})
    status, _, doc = api(svc, "POST", "/admin/api/dead-letters/%s/discard"
                         % ids[0])
    assert status == 404, status
    status, _, order = api(svc, "GET", "/admin/api/orders/5012001")
    assert order["state"] == "needs_attention", order
    assert order["history"][-1]["event"] == "admin_discard", order
    lines = [ln for ln in svc.proc.log_lines_json()
             if ln.get("msg") == "dead letter discarded"]
    assert lines and lines[-1]["req"] == "adm-discard-1", lines


def test_retrying_other_dead_letters_requeues_them_once():
    redis, svc = service()
    t = now_ms()
    old = dead_letter(redis, "item.sync", "item:Z", {"v": 1}, "SC_REJECTED",
                      t)
    foreign = dead_letter(redis, "item.sync", "item:Y", {"v": 1},
                          "SC_REJECTED", t + 1, v="9")
    status, _, doc = api(svc, "POST", "/admin/api/dead-letters/%s/retry"
                         % old, req_id="adm-retry-other")
    assert (status, doc) == (202, {"id": old, "status": "requeued"})
    assert api(svc, "POST", "/admin/api/dead-letters/%s/retry" % old)[0] \
        == 404
    status, _, doc = api(svc, "POST", "/admin/api/dead-letters/%s/retry"
                         % foreign)
    assert (status, doc) == (409, {"error": "conflict"}), (status, doc)
    lines = [ln for ln in svc.proc.log_lines_json()
             if ln.get("msg") == "dead letter retried"]
    assert lines and lines[0]["req"] == "adm-retry-other", lines


def test_stats_show_every_state_hours_polls_and_the_pause():
    redis, svc = service({
        "SCBRIDGE_SC_COMPANY_IDS": "163,164",
        "SCBRIDGE_POLL_ORDERS": "default=24h,Amazon=20h",
    })
    t = now_ms()
    hour = t // 3600000 * 3600000
    redis.cmd("HSET", P + "stats:h:%d" % hour, "imported", 12, "shipped", 30)
    redis.cmd("HSET", P + "stats:h:%d" % (hour - 5 * 3600000),
              "imported", 4)
    seed_order(redis, 1, "shipped", t)
    seed_order(redis, 2, "shipped", t)
    seed_order(redis, 3, "needs_attention", t, reason="TOTAL_MISMATCH: x")
    redis.cmd("HSET", P + "poll:orders:164:Amazon", "cursor",
              "2026-12-01T17:04:00.000", "last_run_at", t - 1000,
              "last_ok_at", t - 1000, "last_error", "")
    redis.cmd("HSET", P + "poll:shipments:default", "cursor", "c-42",
              "last_run_at", t - 500, "last_error", "timeout")
    redis.cmd("SET", P + "ratelimit:sellercloud:paused", t + 600000,
              "PX", 600000)
    status, _, s = api(svc, "GET", "/admin/api/stats")
    assert status == 200, (status, s)
    assert set(s) == {"queues", "in_flight", "oldest_job_age_s", "orders",
                      "last_24h", "polls", "rate_limit"}, sorted(s)
    assert set(s["queues"]) == {"ready", "pending", "delayed", "dead"}
    assert list(s["orders"]) == STATES
    assert s["orders"]["shipped"] == 2
    assert s["orders"]["needs_attention"] == 1
    assert isinstance(s["oldest_job_age_s"], (int, float))
    hours = s["last_24h"]
    assert len(hours) == 24
    for i, h in enumerate(hours):
        start = hour - (23 - i) * 3600000
        assert h["hour"] == time.strftime(
            "%Y-%m-%dT%H:00:00.000Z", time.gmtime(start / 1000)), (i, h)
    assert hours[-1]["imported"] == 12 and hours[-1]["shipped"] == 30
    assert hours[-6]["imported"] == 4 and hours[-6]["shipped"] == 0
    assert sum(h["imported"] for h in hours) == 16
    polls = {(p["poll"], p["company_id"], p["key"]): p for p in s["polls"]}
    assert set(polls) == {("orders", 163, "default"), ("orders", 163,
                          "Amazon"), ("orders", 164, "default"),
                          ("orders", 164, "Amazon"),
                          ("shipments", None, "default"),
                          ("items", None, "default")}, sorted(polls)
    p = polls[("orders", 164, "Amazon")]
    assert p["interval_s"] == 72000
    assert p["cursor"] == "2026-12-01T17:04:00.000"
    assert TIME_RE.match(p["last_ok_at"]) and p["last_error"] is None
    p = polls[("shipments", None, "default")]
    assert p["cursor"] == "c-42" and p["last_error"] == "timeout"
    assert p["last_ok_at"] is None and p["interval_s"] == 1200
    until = s["rate_limit"]["sellercloud"]["paused_until"]
    assert TIME_RE.match(until), until


def test_overdue_gauge_counts_old_waits_and_payment_timeouts():
    redis, svc = service({"SCBRIDGE_AWAITING_PAYMENT_MAX_AGE": "48h"})
    t = now_ms()
    seed_order(redis, 11, "awaiting_payment", t - 49 * 3600000)
    seed_order(redis, 12, "awaiting_payment", t - 47 * 3600000)
    seed_order(redis, 13, "needs_attention", t,
               reason="PAYMENT_TIMEOUT: not Charged after 172800s")
    seed_order(redis, 14, "needs_attention", t,
               reason="UNKNOWN_PRODUCT: X is not a DDI item")
    assert svc.metric("scbridge_orders_awaiting_payment_overdue") == 2
    assert svc.metric("scbridge_orders", state="needs_attention") == 2
    text = svc.metrics()
    assert "# TYPE scbridge_orders_awaiting_payment_overdue gauge" in text


# ---- the whole flow, with both simulators ----

class Stack:
    """Redis, both simulators and one scbridge that imports from them."""

    def __init__(self):
        self.redis = harness.Redis()
        port = harness.free_port()
        url = "http://127.0.0.1:%d" % port
        self.ddi = DdiSim(callback_url=url + "/webhooks/ddi/ship-confirm")
        self.sc = ScSim(companies=[COMPANY], rate_budget=100000,
                        relay_url=url + "/webhooks/sellercloud",
                        relay_secret=harness.SC_SECRET)
        env = harness.base_env(
            self.redis.url, sc_url=self.sc.rest, ddi_url=self.ddi.base,
            port=port, extra={
                "SCBRIDGE_IMPORT_SINCE": "2020-01-01T00:00:00Z",
                "SCBRIDGE_POLL_ORDERS": "default=1h",
                "SCBRIDGE_WORKERS": "2",
                "SCBRIDGE_BACKOFF_BASE": "1s",
                "SCBRIDGE_BACKOFF_CAP": "2s",
                "SCBRIDGE_DDI_LOOKUP_DELAY": "2s",
                "SCBRIDGE_SC_RATE_PER_HOUR": "1000000",
            })
        self.svc = harness.Service(env)

    def unknown_product_orders(self, skus):
        """One Charged order per SKU that DDI does not know; their ids."""
        ids = []
        for sku in skus:
            ids += self.sc.generate(1, companies=[COMPANY], channels=[4],
                                    skus=[sku], broken_share=0.0,
                                    charged_share=1.0, inprocess_share=1.0,
                                    shipped_share=0.0)
        return ids

    def state(self, oid):
        status, _, doc = api(self.svc, "GET", "/admin/api/orders/%d" % oid)
        return doc if status == 200 else None

    def wait_state(self, oid, state, timeout=20):
        return harness.wait_for(
            lambda: (self.state(oid) or {}).get("state") == state and
            self.state(oid), timeout=timeout, step=0.2,
            what="order %d %s" % (oid, state))

    def add_item(self, sku):
        self.ddi.seed_items([{"product_no": sku, "warehouse": "MAIN",
                              "description": "Fixed item " + sku,
                              "price": "5.00", "available_qty": 50}],
                            notify=False)

    def dead_letters(self):
        status, _, doc = api(self.svc, "GET", "/admin/api/dead-letters")
        assert status == 200, status
        return doc["items"]


def events(order):
    return [h["event"] for h in order["history"]]


def test_unknown_product_orders_are_retried_replayed_and_discarded():
    stack = Stack()
    skus = ["ADM-NEW-1", "ADM-NEW-2", "ADM-NEW-3"]
    a, b, c = stack.unknown_product_orders(skus)
    for oid in (a, b, c):
        o = stack.wait_state(oid, "needs_attention")
        check_order_shape(o, with_history=True)
        assert o["reason"].startswith("UNKNOWN_PRODUCT"), o
        assert o["ddi_order_no"] is None and o["company_id"] == COMPANY
    letters = {d["sc_order_id"]: d for d in stack.dead_letters()}
    assert set(letters) >= {a, b, c}, letters
    for oid in (a, b, c):
        d = letters[oid]
        assert d["type"] == "order.import" and d["company_id"] == COMPANY
        assert d["reason"] == stack.state(oid)["reason"], d
    status, _, page = api(stack.svc, "GET",
                          "/admin/api/orders?state=needs_attention")
    assert {o["sc_order_id"] for o in page["items"]} >= {a, b, c}

    # A: the item is created in DDI, then the dead letter is retried.
    stack.add_item(skus[0])
    status, _, doc = api(stack.svc, "POST", "/admin/api/dead-letters/%s/"
                         "retry" % letters[a]["id"], req_id="adm-retry-a")
    assert (status, doc) == (202, {"id": letters[a]["id"],
                                   "status": "requeued"}), (status, doc)
    o = stack.wait_state(a, "imported")
    assert o["ddi_order_no"], o
    assert "admin_retry" in events(o), events(o)
    assert events(o).index("admin_retry") < events(o).index("imported")
    status, _, by_no = api(stack.svc, "GET", "/admin/api/orders?"
                           "ddi_order_no=" + o["ddi_order_no"])
    assert status == 200 and by_no["sc_order_id"] == a, by_no
    assert api(stack.svc, "POST", "/admin/api/dead-letters/%s/retry"
               % letters[a]["id"])[0] == 404
    log = [ln for ln in stack.svc.proc.log_lines_json()
           if ln.get("msg") == "dead letter retried"]
    assert log and log[0]["req"] == "adm-retry-a", log

    # B: discarded, it keeps its state; a replay later imports it.
    status, _, doc = api(stack.svc, "POST", "/admin/api/dead-letters/%s/"
                         "discard" % letters[b]["id"])
    assert (status, doc) == (200, {"id": letters[b]["id"],
                                   "status": "discarded"})
    o = stack.state(b)
    assert o["state"] == "needs_attention"
    assert events(o)[-1] == "admin_discard", events(o)
    assert b not in {d["sc_order_id"] for d in stack.dead_letters()}

    # C: replayed by order id; its dead letter goes at once.
    stack.add_item(skus[2])
    stack.add_item(skus[1])
    status, _, doc = api(stack.svc, "POST", "/admin/api/orders/%d/replay"
                         % c, req_id="adm-replay-c")
    assert (status, doc) == (202, {"sc_order_id": c, "status": "requeued"})
    assert c not in {d["sc_order_id"] for d in stack.dead_letters()}
    status, _, doc = api(stack.svc, "POST", "/admin/api/orders/%d/replay"
                         % b)
    assert status == 202, (status, doc)
    for oid in (b, c):
        o = stack.wait_state(oid, "imported")
        assert "admin_replay" in events(o), events(o)
    log = [ln for ln in stack.svc.proc.log_lines_json()
           if ln.get("msg") == "order replayed"]
    assert any(ln["req"] == "adm-replay-c" for ln in log), log

    # A replay of an imported order makes no second DDI order.
    status, _, _ = api(stack.svc, "POST", "/admin/api/orders/%d/replay" % a)
    assert status == 202
    harness.wait_for(lambda: events(stack.state(a)).count("admin_replay")
                     == 1, what="the replay event")
    time.sleep(1.0)
    for oid in (a, b, c):
        ref = "SC-%d-%d" % (COMPANY, oid)
        assert len(stack.ddi.orders(reference=ref)) == 1, ref
    assert stack.state(a)["state"] == "imported"
    status, _, s = api(stack.svc, "GET", "/admin/api/stats")
    assert s["orders"]["imported"] == 3 and s["queues"]["dead"] == 0, s
