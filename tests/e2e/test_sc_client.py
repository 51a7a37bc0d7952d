# SPDX-License-Identifier: MIT
"""The Sellercloud client (service/sc_client.c) end to end, driven by the
sc-probe tool against the Sellercloud simulator, a recording proxy in front
of it, or a scripted stand-in server; the shared rate limit in a throwaway
Redis. One behaviour per test. Every probe runs under ASan: a leak or a
crash fails the test."""
import http.client as http_client
import http.server
import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

import harness
import sim_sc

# harness.http is a function named like the http package and hides it;
# the simulator helper calls harness.http, so give it the module back.
if callable(harness.http) and not hasattr(harness.http, "client"):
    harness.http.client = http_client

PROBE = os.path.join(harness.BUILD, "tools", "sc-probe")
PASSWORD = "sc-password"
COMPANY = 163


# ---- running the probe -------------------------------------------------

def probe_env(redis, base, extra=None):
    env = harness.base_env(redis.url, sc_url=base)
    env["SCBRIDGE_SC_PASSWORD"] = PASSWORD
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0"
    env.update(extra or {})
    return env


def probe(env, *args, timeout=120):
    """Runs sc-probe; answers (result dict, stderr). Exit 0 or it fails."""
    p = subprocess.run([PROBE] + [str(a) for a in args], env=env,
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, "sc-probe %s exited %d: %s" % (
        args[0], p.returncode, p.stderr[-3000:])
    lines = p.stdout.strip().splitlines()
    assert lines, "sc-probe %s printed nothing: %s" % (args[0], p.stderr)
    return json.loads(lines[-1]), p.stderr


def probe_bg(env, *args):
    return subprocess.Popen([PROBE] + [str(a) for a in args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(p, timeout=150):
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, "sc-probe exited %d: %s" % (p.returncode,
                                                          err[-3000:])
    return json.loads(out.strip().splitlines()[-1]), err


def ok(res):
    assert res["err"] == "SCB_OK", res
    return res


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(s):
    return datetime.strptime(s.rstrip("Z")[:23], "%Y-%m-%dT%H:%M:%S.%f") \
        .replace(tzinfo=timezone.utc)


# ---- a stand-in server: recording proxy or scripted answers -------------

class Upstream:
    """A threaded HTTP server on loopback. With 'target' it forwards every
    request there and records it raw (method, path, query, body); without,
    it answers the token call itself and every other call through
    'script(method, path, headers)' -> (status, headers, body), "timeout"
    or "drop"."""

    def __init__(self, target=None, script=None):
        self.target = target
        self.script = script
        self.records = []
        self.tokens = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_one(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                path, _, query = self.path.partition("?")
                with outer.lock:
                    outer.records.append({
                        "method": self.command, "path": path,
                        "query": query, "body": body,
                        "headers": dict(self.headers)})
                if outer.target:
                    return outer.forward(self, body)
                return outer.answer(self, path, body)

            do_GET = do_POST = do_PUT = do_DELETE = handle_one

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        # A client that hangs up on a too-big answer is expected here.
        self.server.handle_error = lambda request, address: None
        self.port = self.server.server_address[1]
        self.base = "http://127.0.0.1:%d/rest" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def send(h, status, headers, body):
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def forward(self, h, body):
        u = urllib.parse.urlsplit(self.target)
        conn = http_client.HTTPConnection(u.hostname, u.port, timeout=30)
        fwd = {k: v for k, v in h.headers.items()
               if k.lower() in ("authorization", "content-type")}
        conn.request(h.command, h.path, body=body or None, headers=fwd)
        r = conn.getresponse()
        data = r.read()
        keep = {k: v for k, v in r.getheaders()
                if k.lower() in ("content-type", "retry-after")}
        conn.close()
        self.send(h, r.status, keep, data)

    def answer(self, h, path, body):
        if h.command == "POST" and path.endswith("/api/token"):
            with self.lock:
                self.tokens += 1
                n = self.tokens
            doc = {"access_token": "tok-%d" % n, "token_type": "Bearer",
                   "username": "scbridge", "expires_in": 1799.5}
            return self.send(h, 200, {"Content-Type": "application/json"},
                             json.dumps(doc).encode())
        what = self.script(h.command, path, h.headers)
        if what == "timeout":
            time.sleep(3)
            h.close_connection = True
            return None
        if what == "drop":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return None
        status, headers, data = what
        return self.send(h, status, headers, data)

    def calls(self, method=None, suffix=""):
        with self.lock:
            return [r for r in self.records
                    if (method is None or r["method"] == method)
                    and r["path"].endswith(suffix)]


# ---- the independent Swagger check -------------------------------------

class Swagger:
    """The Swagger file itself, read here, to judge recorded requests."""

    def __init__(self):
        with open(sim_sc.SWAGGER) as f:
            self.doc = json.load(f)
        self.base = self.doc.get("basePath", "/rest")
        self.ops = []
        for tmpl, item in self.doc["paths"].items():
            rx = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+",
                              re.escape(tmpl)) + "$"
            for method, op in item.items():
                if method == "parameters":
                    continue
                self.ops.append((re.compile(rx), method.upper(), tmpl, op))

    def resolve(self, schema):
        while "$ref" in schema:
            schema = self.doc["definitions"][schema["$ref"].split("/")[-1]]
        return schema

    def match(self, method, path):
        """The (template, op) of a request; literal paths beat templates."""
        assert path.startswith(self.base + "/"), path
        rel = path[len(self.base):]
        found = [(t, op) for rx, m, t, op in self.ops
                 if m == method and rx.match(rel)]
        assert found, "%s %s is not in the Swagger" % (method, rel)
        found.sort(key=lambda x: x[0].count("{"))
        return found[0]

    def check_value(self, schema, v, where):
        s = self.resolve(schema)
        t = s.get("type")
        if t is None and "properties" in s:
            t = "object"
        if t == "object" and "properties" in s:
            assert isinstance(v, dict), "%s: not an object" % where
            for k in s.get("required", []):
                assert k in v, "%s: required %s missing" % (where, k)
            for k, x in v.items():
                assert k in s["properties"], \
                    "%s: field %s is not in the Swagger" % (where, k)
                self.check_value(s["properties"][k], x, where + "." + k)
        elif t == "array":
            assert isinstance(v, list), "%s: not an array" % where
            for i, x in enumerate(v):
                self.check_value(s.get("items", {}), x, "%s[%d]" % (where,
                                                                    i))
        elif t == "integer":
            assert isinstance(v, int) and not isinstance(v, bool), where
        elif t == "number":
            assert isinstance(v, (int, float)) and \
                not isinstance(v, bool), where
        elif t == "string":
            assert isinstance(v, str), "%s: not a string" % where
        elif t == "boolean":
            assert isinstance(v, bool), "%s: not a boolean" % where

    def check(self, rec):
        """Asserts one recorded request is described by the Swagger;
        answers its 'METHOD template' key."""
        tmpl, op = self.match(rec["method"], rec["path"])
        key = "%s %s" % (rec["method"], tmpl)
        assert "[obsolete]" not in op.get("summary", ""), key
        params = op.get("parameters", [])
        query = {p["name"]: p for p in params if p.get("in") == "query"}
        seen = {}
        for name, value in urllib.parse.parse_qsl(
                rec["query"], keep_blank_values=True, strict_parsing=False):
            assert name in query, "%s: query %s not in the Swagger" % (
                key, name)
            seen[name] = seen.get(name, 0) + 1
            p = query[name]
            kind = p.get("items", {}).get("type") if p.get("type") == \
                "array" else p.get("type")
            if kind == "integer":
                assert re.match(r"^-?[0-9]+$", value), (key, name, value)
            if kind == "boolean":
                assert value in ("true", "false"), (key, name, value)
        for name, n in seen.items():
            if query[name].get("collectionFormat") != "multi":
                assert n == 1, "%s: %s sent %d times" % (key, name, n)
        for name, p in query.items():
            if p.get("required"):
                assert name in seen, "%s: required %s missing" % (key, name)
        body_param = [p for p in params if p.get("in") == "body"]
        if rec["body"]:
            assert body_param, "%s takes no body" % key
            self.check_value(body_param[0]["schema"],
                             json.loads(rec["body"]), key)
        elif body_param and body_param[0].get("required"):
            raise AssertionError("%s: the body is missing" % key)
        return key


# ---- tests --------------------------------------------------------------

def test_every_request_is_described_by_the_swagger():
    redis = harness.Redis(appendonly=True)
    sim = sim_sc.ScSim(seed=11, companies=[COMPANY, 164],
                       password=PASSWORD, tz="-05:00")
    proxy = Upstream(target=sim.base)
    try:
        ids = sim.generate(55, companies=[COMPANY], shipped_share=0.0,
                           extra_package_share=1.0)
        sku = "A/B#C? &+x"
        sim.seed_products([{"ID": sku, "ProductName": "Seeded",
                            "ProductType": "Widget", "PhysicalQty": 3,
                            "WarehouseID": 1}])
        env = probe_env(redis, proxy.base)
        now = datetime.now(timezone.utc)
        ship = iso(now - timedelta(seconds=30))
        order = ids[0]
        ok(probe(env, "token")[0])
        res = ok(probe(env, "orders-by-ids", COMPANY, *ids[:50])[0])
        assert sorted(o["id"] for o in res["orders"]) == sorted(ids[:50])
        res = ok(probe(env, "orders-updated", COMPANY,
                       iso(now - timedelta(days=1)), -1)[0])
        assert res["pages"] == 2 and sorted(res["ids"]) == sorted(ids)
        ok(probe(env, "orders-updated", COMPANY,
                 iso(now - timedelta(days=1)), 4)[0])
        ok(probe(env, "order-get", order)[0])
        assert ok(probe(env, "is-exported", order)[0])["exported"] is False
        res = ok(probe(env, "set-exported", order, ids[1], 999999)[0])
        assert sorted(res["marked"]) == sorted([order, ids[1]])
        assert ok(probe(env, "is-exported", order)[0])["exported"] is True
        pk = ok(probe(env, "packages", order)[0])["packages"]
        assert len(pk) >= 2 and pk == sorted(pk, key=lambda p: p["id"])
        ok(probe(env, "ship", order, "UPS", "Ground", ship, "1ZAAA")[0])
        ok(probe(env, "ship-package", order, pk[1]["id"], "UPS", "Ground",
                 ship, "1ZBBB")[0])
        ok(probe(env, "note", order, "Tracking: 1ZCCC, 1ZDDD", 0)[0])
        item = ok(probe(env, "catalog", sku)[0])["item"]
        assert item["ID"] == sku
        assert probe(env, "catalog", "NO-SUCH")[0]["err"] == "SCB_ENOTFOUND"
        ok(probe(env, "product-create", COMPANY, "NEW/1#?", "New one",
                 "Widget", "19.99", "036000291452")[0])
        ok(probe(env, "basic-info", sku, "Renamed", "Long text",
                 "MFG-1", "036000291452", "1234.50")[0])
        ok(probe(env, "custom-columns", sku, "UnitOfMeasure=EA",
                 "ImageURL=https://img.example/x.png")[0])
        ok(probe(env, "set-physical", sku, 1, 42)[0])

        # The simulator enforces the Swagger and counted no breach...
        assert sim.breaches()["count"] == 0, sim.breaches()
        # ...and, independently, each raw request is checked here.
        sw = Swagger()
        keys = {sw.check(r) for r in proxy.records}
        assert keys == {
            "POST /api/token", "GET /api/Orders", "GET /api/Orders/{id}",
            "PUT /api/Orders/SetExported", "GET /api/Orders/Packages",
            "PUT /api/Orders/ShippingStatus",
            "PUT /api/Orders/ShippingStatus/SinglePackage",
            "POST /api/Orders/{orderID}/Notes", "GET /api/Catalog",
            "POST /api/Products", "PUT /api/Catalog/BasicInfo",
            "PUT /api/Products/CustomColumns",
            "PUT /api/Inventory/SetPhysicalInventory"}, keys
        check_spellings(proxy, sku, ids)
        product = sim.product(sku)
        assert product and abs(product["SitePrice"] - 1234.5) < 1e-9
    finally:
        proxy.stop()


def check_spellings(proxy, sku, ids):
    """The forms sellercloud.md fixes: repeated ids, encoded SKUs, paging,
    the query date form, money printed with two decimals."""
    lists = proxy.calls("GET", "/api/Orders")
    by_ids = [r for r in lists if "model.orderIDs=" in r["query"]][0]
    q = urllib.parse.parse_qs(by_ids["query"])
    assert q["model.orderIDs"] == [str(i) for i in ids[:50]]
    assert q["model.companyID"] == [str(COMPANY)]
    assert q["model.pageSize"] == ["50"] and q["model.pageNumber"] == ["1"]
    poll = [r for r in lists if "model.lastUpdatedFrom=" in r["query"]][0]
    q = urllib.parse.parse_qs(poll["query"])
    assert re.match(r"^\d\d/\d\d/\d{4} \d\d:\d\d$",
                    q["model.lastUpdatedFrom"][0]), q
    assert q["model.orderBy"] == ["0"] and q["model.isAscending"] == ["true"]
    assert "model.channel" not in q
    assert any("model.channel=4" in r["query"] for r in lists)
    cat = proxy.calls("GET", "/api/Catalog")[0]
    raw = cat["query"].split("model.sKU=")[1].split("&")[0]
    assert not re.search(r"[/#? +&]", raw), raw
    assert urllib.parse.unquote(raw) == sku
    basic = proxy.calls("PUT", "/api/Catalog/BasicInfo")[0]["body"]
    assert b'"SitePrice":1234.50' in basic, basic
    create = proxy.calls("POST", "/api/Products")[0]["body"]
    assert b'"DefaultPrice":19.99' in create and b'"CompanyId":163' in create
    single = json.loads(proxy.calls(
        "PUT", "/ShippingStatus/SinglePackage")[0]["body"])
    assert single["PackageID"] > 0
    token = json.loads(proxy.calls("POST", "/api/token")[0]["body"])
    assert token == {"Username": "scbridge", "Password": PASSWORD}


def test_token_expiry_mid_run_refreshes_once_without_failures():
    redis = harness.Redis(appendonly=True)
    sim = sim_sc.ScSim(seed=3, companies=[COMPANY], password=PASSWORD,
                       token_life_s=4, rate_budget=0)
    ids = sim.generate(1, companies=[COMPANY])
    env = probe_env(redis, sim.rest,
                    {"SCBRIDGE_SC_RATE_PER_HOUR": "1000000"})
    # Four threads for 5 s on a 4 s token: refreshed once, at 3 s. On a
    # fast machine the load can outrun even the largest budget (1,000,000
    # an hour: a burst of 20,000): such calls answer SCB_EWAIT, which a job
    # waits out. Nothing may fail for the token.
    res, _ = probe(env, "load", 5, 4, COMPANY, ids[0])
    assert set(res["results"]) <= {"SCB_OK", "SCB_EWAIT"}, res
    assert res["calls"] > 50, res
    assert res["fetches"] == 2, res
    c = sim.counters()
    assert c["by_endpoint"]["POST /api/token"] == 2, c
    assert c["unauthorized"] == 0, c


def test_a_401_refreshes_the_token_once_for_all_threads():
    redis = harness.Redis(appendonly=True)
    sim = sim_sc.ScSim(seed=5, companies=[COMPANY], password=PASSWORD,
                       token_life_s=3600, rate_budget=0)
    ids = sim.generate(1, companies=[COMPANY])
    env = probe_env(redis, sim.rest,
                    {"SCBRIDGE_SC_RATE_PER_HOUR": "1000000"})
    p = probe_bg(env, "load", 4, 4, COMPANY, ids[0])
    time.sleep(2)
    # Two hours on the simulator's clock: the token it gave is now dead.
    sim.clock(offset_s=7200)
    res, _ = finish(p)
    assert res["results"] == {"SCB_OK": res["calls"]}, res
    assert res["fetches"] == 2, res
    c = sim.counters()
    assert c["by_endpoint"]["POST /api/token"] == 2, c
    assert 1 <= c["unauthorized"] <= 4, c


def test_three_processes_share_the_budget_without_a_429():
    # N = 100 calls a minute; H = 2700 gives b = 54 and 2646 an hour:
    # at most 54 + 2646 * 60 / 3600 = 98.1 calls in any minute.
    n_budget = 100
    redis = harness.Redis(appendonly=True)
    sim = sim_sc.ScSim(seed=9, companies=[COMPANY], password=PASSWORD,
                       rate_budget=n_budget, rate_window_s=60)
    ids = sim.generate(1, companies=[COMPANY])
    env = probe_env(redis, sim.rest, {"SCBRIDGE_SC_RATE_PER_HOUR": "2700"})
    procs = [probe_bg(env, "load", 62, 2, COMPANY, ids[0])
             for _ in range(3)]
    results = [finish(p)[0] for p in procs]
    for r in results:
        assert set(r["results"]) == {"SCB_OK"}, results
        assert r["cut"] <= 2, results  # a wait past the end, per thread
    c = sim.counters()
    assert c["rate_limited"] == 0, c
    entries = [e for e in sim.requests(limit=20000)["entries"]
               if e["path"].startswith("/rest/")]
    start = parse_ts(entries[0]["ts"])
    first = [e for e in entries
             if parse_ts(e["ts"]) < start + timedelta(seconds=60)]
    print("calls in the first window: %d of %d" % (len(first), n_budget))
    assert len(first) >= 0.9 * n_budget, len(first)
    assert len(first) <= n_budget, len(first)


def test_a_429_pauses_every_process_until_its_reset_time():
    redis = harness.Redis(appendonly=True)
    sim = sim_sc.ScSim(seed=13, companies=[COMPANY], password=PASSWORD,
                       rate_budget=5, rate_window_s=6)
    ids = sim.generate(1, companies=[COMPANY])
    env = probe_env(redis, sim.rest,
                    {"SCBRIDGE_SC_RATE_PER_HOUR": "1000000"})
    # Two threads call until the simulator says too many, then wait.
    first, _ = probe(env, "load", 2, 2, COMPANY, ids[0])
    assert set(first["results"]) == {"SCB_OK"}, first
    assert first["cut"] >= 1, first  # waits for the reset
    c = sim.counters()
    assert 1 <= c["rate_limited"] <= 2, c
    reset = parse_ts(c["window_end"])
    paused = probe(env, "paused")[0]["paused_until_ms"] / 1000.0
    assert abs(paused - reset.timestamp()) < 1.0, (paused, reset)
    # Another process during the pause calls nothing at all.
    second, _ = probe(env, "load", 2, 2, COMPANY, ids[0])
    assert second["results"] == {} and second["cut"] == 2, second
    entries = [e for e in sim.requests(limit=1000)["entries"]
               if e["path"].startswith("/rest/")]
    hit = min(parse_ts(e["ts"]) for e in entries if e["status"] == 429)
    during = [e for e in entries
              if hit + timedelta(milliseconds=200) < parse_ts(e["ts"])
              < reset]
    assert during == [], during
    # After the reset time, calls go through again.
    time.sleep(max(0.0, reset.timestamp() - time.time()) + 0.3)
    ok(probe(env, "orders-by-ids", COMPANY, ids[0])[0])


def scripted(answers):
    """A script answering each non-token call with the next of 'answers'
    (the last one repeats)."""
    state = {"i": 0}

    def script(method, path, headers):
        a = answers[min(state["i"], len(answers) - 1)]
        state["i"] += 1
        return a(method, path, headers) if callable(a) else a
    return script


JSON = {"Content-Type": "application/json; charset=utf-8"}


def classify(redis, answer, *args, extra=None):
    """One probe call against a server that answers 'answer'."""
    up = Upstream(script=scripted([answer]))
    try:
        env = probe_env(redis, up.base, dict(
            {"SCBRIDGE_SC_TIMEOUT": "1s"}, **(extra or {})))
        res, err = probe(env, *args)
        for secret in (PASSWORD, "tok-1", "model.orderIDs", "Bearer"):
            assert secret not in err, "logged %r: %s" % (secret, err)
        return res
    finally:
        up.stop()


def test_bad_answers_get_a_clear_class_and_leak_nothing():
    redis = harness.Redis(appendonly=True)
    read = ("orders-by-ids", COMPANY, 5012001)
    ten_mb = b'{"Items":[' + b" " * (10 * 1024 * 1024) + b"]}"
    cases = [
        ((200, JSON, b'{"Items": [{"ID": 1,'), "SCB_EPARSE", "transient"),
        ((200, JSON, b"{not json}"), "SCB_EPARSE", "transient"),
        ((200, {"Content-Type": "text/html"},
          b'{"Items":[],"TotalResults":0}'), "SCB_EPARSE", "transient"),
        ((200, JSON, b""), "SCB_EPARSE", "transient"),
        ((200, JSON, b'{"Items":7}'), "SCB_EPARSE", "transient"),
        ((200, JSON, ten_mb), "SCB_ETOOBIG", "permanent"),
        ((500, JSON, b'{"Message":"boom"}'), "SCB_EUPSTREAM", "transient"),
        ((400, JSON, b'{"Message":"bad filter"}'), "SCB_EPERMANENT",
         "permanent"),
        ((503, dict(JSON, **{"Retry-After": "3"}), b"{}"), "SCB_EWAIT",
         "wait"),
        ("timeout", "SCB_ETIMEOUT", "transient"),
        ("drop", "SCB_EUPSTREAM", "transient"),
    ]
    for answer, err, cls in cases:
        res = classify(redis, answer, *read)
        assert (res["err"], res["class"]) == (err, cls), (answer[:2], res)
    res = classify(redis, (400, JSON, b'{"Message":"bad filter"}'), *read)
    assert "bad filter" in res["excerpt"], res
    res = classify(redis, (503, dict(JSON, **{"Retry-After": "3"}), b""),
                   *read)
    assert res["wait_ms"] == 3000, res


def metric(text, name, **labels):
    """The value of the sample of 'name' with exactly 'labels'."""
    want = name + "{" + ",".join('%s="%s"' % kv for kv in labels.items()) \
        + "}"
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    return None


def test_calls_are_counted_per_endpoint_and_code():
    redis = harness.Redis(appendonly=True)
    extra = {"SC_PROBE_METRICS": "1"}
    res = classify(redis, (200, JSON, b'{"Items":[],"TotalResults":0}'),
                   "orders-by-ids", COMPANY, 1, extra=extra)
    text = res["metrics"]
    assert metric(text, "scbridge_upstream_requests_total",
                  upstream="sellercloud", endpoint="GET /api/Orders",
                  code="200") == 1, text
    assert metric(text, "scbridge_upstream_requests_total",
                  upstream="sellercloud", endpoint="POST /api/token",
                  code="200") == 1, text
    assert metric(text, "scbridge_upstream_duration_seconds_count",
                  upstream="sellercloud") == 2, text
    res = classify(redis, "timeout", "set-physical", "S", 1, 2, extra=extra)
    assert metric(res["metrics"], "scbridge_upstream_requests_total",
                  upstream="sellercloud",
                  endpoint="PUT /api/Inventory/SetPhysicalInventory",
                  code="timeout") == 1, res["metrics"]
    env = probe_env(redis, "http://127.0.0.1:%d/rest" % harness.free_port(),
                    extra)
    res, _ = probe(env, "token")
    assert (res["err"], res["class"]) == ("SCB_EUPSTREAM", "transient")
    assert metric(res["metrics"], "scbridge_upstream_requests_total",
                  upstream="sellercloud", endpoint="POST /api/token",
                  code="conn_error") == 1, res["metrics"]


def test_a_failed_write_is_outcome_unknown():
    redis = harness.Redis(appendonly=True)
    write = ("set-physical", "SKU-1", 1, 5)
    for answer in ((500, JSON, b'{"Message":"boom"}'), "timeout", "drop"):
        res = classify(redis, answer, *write)
        assert (res["err"], res["class"]) == ("SCB_EUNKNOWN", "unknown"), \
            (answer, res)
    res = classify(redis, (200, {}, b""), *write)
    assert res["err"] == "SCB_OK", res  # an empty answer is all it gives


def test_a_too_many_requests_body_pauses_whatever_its_status():
    redis = harness.Redis(appendonly=True)
    reset = datetime.now(timezone.utc) + timedelta(seconds=20)
    body = json.dumps({"Error": "Too many requests.",
                       "RateLimitResetTime": reset.strftime(
                           "%Y-%m-%dT%H:%M:%S.%f")[:-3]}).encode()
    res = classify(redis, (400, JSON, body), "order-get", 5012001)
    assert (res["err"], res["class"]) == ("SCB_EWAIT", "wait"), res
    assert 15000 <= res["wait_ms"] <= 20500, res
    up = Upstream(script=scripted([(200, JSON, b"{}")]))
    try:
        env = probe_env(redis, up.base)
        paused = probe(env, "paused")[0]["paused_until_ms"] / 1000.0
        assert abs(paused - reset.timestamp()) < 1.0
        res, _ = probe(env, "order-get", 5012001)
        assert res["err"] == "SCB_EWAIT", res
        assert up.records == [], up.records  # not even the token call
    finally:
        up.stop()


def test_a_second_401_is_handed_back_as_transient():
    redis = harness.Redis(appendonly=True)
    unauthorized = (401, JSON, b'{"Message":"Authorization denied."}')
    up = Upstream(script=scripted([unauthorized]))
    try:
        env = probe_env(redis, up.base)
        res, _ = probe(env, "order-get", 5012001)
        assert (res["err"], res["class"]) == ("SCB_EUPSTREAM", "transient")
        assert res["status"] == 401 and res["fetches"] == 2, res
        assert len(up.calls("GET")) == 2  # one retry, no more
        tokens = [r["headers"].get("Authorization") for r in up.calls("GET")]
        assert tokens == ["Bearer tok-1", "Bearer tok-2"], tokens
    finally:
        up.stop()


def test_refused_credentials_are_an_auth_error():
    redis = harness.Redis(appendonly=True)
    sim = sim_sc.ScSim(seed=1, companies=[COMPANY], password="other")
    env = probe_env(redis, sim.rest)
    res, err = probe(env, "orders-by-ids", COMPANY, 1)
    assert (res["err"], res["class"]) == ("SCB_EAUTH", "transient"), res
    assert PASSWORD not in err
