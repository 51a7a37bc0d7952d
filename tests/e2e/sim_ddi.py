# SPDX-License-Identifier: MIT
"""The DDI gateway simulator (build/<mode>/sim-ddi) for end-to-end tests.

    sim = DdiSim(callback_url="http://127.0.0.1:%d/webhooks/ddi/ship-confirm"
                 % port)
    st, order = sim.create(DdiSim.order_body("SC-163-1", [("SKU-001", 2,
                                                           "19.95")]))
    sim.ship_confirm(order["order_no"], lines=[{"line_no": 1, "qty": 1}])
    sim.wait_idle()

The simulator runs under harness.Proc, so harness.cleanup_all() stops it.
"""
import http.client as http_client
import json
import os
import re
import time
import urllib.parse
import zlib

import harness

API_KEY = "ddi-key"
COMPANY = "01"


def http_json(method, url, body=None, headers=None, timeout=10):
    """(status, headers lower-case, decoded JSON or None) of one request.
    (harness.http cannot reach http.client: its own name hides the
    module, so this helper does the call itself.)"""
    u = urllib.parse.urlsplit(url)
    conn = http_client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    path = u.path + ("?" + u.query if u.query else "")
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()
    try:
        doc = json.loads(data) if data else None
    except ValueError:
        doc = None
    return r.status, hdrs, doc


def cents(amount):
    """'19.95' -> 1995 (amount strings as the simulator prints them)."""
    neg = amount.startswith("-")
    whole, _, frac = amount.lstrip("-").partition(".")
    v = int(whole) * 100 + int((frac + "00")[:2])
    return -v if neg else v


def money(c):
    """1995 -> '19.95'."""
    sign = "-" if c < 0 else ""
    return "%s%d.%02d" % (sign, abs(c) // 100, abs(c) % 100)


class DdiSim:
    """One sim-ddi process and calls to its gateway and control API."""

    def __init__(self, callback_url=None, items_url=None,
                 secret=harness.DDI_SECRET, seed=1, api_key=API_KEY,
                 company=COMPANY, drop_rate=0.0, dup_rate=0.0, retry_max=5,
                 retry_first_ms=100, retry_cap_ms=2000,
                 callback_timeout_ms=2000, commit_delay_ms=0, items=20,
                 warehouses="MAIN,WEST", customers=None, port=0,
                 name="sim-ddi", extra_args=()):
        self.api_key = api_key
        self.company = company
        argv = [harness.SIM_DDI, "--port", str(port), "--seed", str(seed),
                "--api-key", api_key, "--company", company,
                "--drop-rate", repr(drop_rate), "--dup-rate", repr(dup_rate),
                "--retry-max", str(retry_max),
                "--retry-first-ms", str(retry_first_ms),
                "--retry-cap-ms", str(retry_cap_ms),
                "--callback-timeout-ms", str(callback_timeout_ms),
                "--commit-delay-ms", str(commit_delay_ms),
                "--items", str(items), "--warehouses", warehouses]
        for opt, val in (("--callback-url", callback_url),
                         ("--items-url", items_url), ("--secret", secret),
                         ("--customers", customers)):
            if val is not None:
                argv += [opt, val]
        argv += list(extra_args)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
               "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
        self.proc = harness.Proc(name, argv, env)
        self.port = int(harness.wait_for(self._read_port,
                                         what="sim-ddi SIM_PORT"))
        self.base = "http://127.0.0.1:%d" % self.port

    def _read_port(self):
        if not self.proc.alive():
            raise AssertionError("sim-ddi exited: %s" % self.proc.log())
        m = re.search(r"^SIM_PORT=(\d+)$", self.proc.log(), re.M)
        return m.group(1) if m else None

    def stop(self):
        return self.proc.stop()

    # -- the gateway API (/v1), with the key and company unless told ----

    def headers(self, extra=None):
        h = {"Authorization": "Bearer " + self.api_key,
             "X-DDI-Company": self.company,
             "Content-Type": "application/json"}
        h.update(extra or {})
        return h

    def api(self, method, path, body=None, headers=None, params=None,
            timeout=10):
        """(status, headers, doc) of one /v1 call."""
        if params:
            path += "?" + urllib.parse.urlencode(
                {k: v for k, v in params.items() if v is not None})
        h = self.headers() if headers is None else headers
        return http_json(method, self.base + path, body, h, timeout)

    def create(self, body, idempotency_key=None, timeout=10):
        h = self.headers()
        key = idempotency_key or (body.get("reference")
                                  if isinstance(body, dict) else None)
        if key:
            h["Idempotency-Key"] = key
        st, _, doc = self.api("POST", "/v1/pos-orders", body, h,
                              timeout=timeout)
        return st, doc

    def lookup(self, reference):
        st, _, doc = self.api("GET", "/v1/pos-orders",
                              params={"reference": reference})
        assert st == 200, (st, doc)
        return doc["items"]

    def order(self, order_no):
        st, _, doc = self.api("GET", "/v1/pos-orders/" + order_no)
        return st, doc

    def cancel(self, order_no, reason="test"):
        st, _, doc = self.api("POST", "/v1/pos-orders/%s/cancel" % order_no,
                              {"reason": reason})
        return st, doc

    def shipments(self, cursor=None, limit=None, since=None):
        st, _, doc = self.api("GET", "/v1/shipments", params={
            "confirmed_after": cursor, "limit": limit, "since": since})
        return st, doc

    def items(self, cursor=None, limit=None, since=None):
        st, _, doc = self.api("GET", "/v1/items", params={
            "changed_after": cursor, "limit": limit, "since": since})
        return st, doc

    # -- the control API (/_sim) ----------------------------------------

    def ctl(self, method, path, body=None, params=None):
        if params:
            path += "?" + urllib.parse.urlencode(params)
        return http_json(method, self.base + "/_sim/" + path, body,
                         {"Content-Type": "application/json"})[::2]

    def _ok(self, method, path, body=None, params=None, want=200):
        st, doc = self.ctl(method, path, body, params)
        assert st == want, (path, st, doc)
        return doc

    def state(self):
        return self._ok("GET", "state")

    def reset(self, items=True):
        return self._ok("POST", "reset", {"items": items})

    def config(self, **settings):
        """commit_delay_ms, create_fault={"mode","count"}, callback_url,
        items_url, drop_rate, dup_rate, retry_max, retry_first_ms,
        retry_cap_ms."""
        return self._ok("POST", "config", settings)

    def create_fault(self, mode, count=1):
        """'timeout' or 'error' for the next 'count' creates (-1: all)."""
        return self.config(create_fault={"mode": mode, "count": count})

    def seed_items(self, items, notify=True):
        return self._ok("POST", "items", {"items": items, "notify": notify})

    def all_items(self):
        return self._ok("GET", "items")["items"]

    def set_customers(self, account_nos, replace=False):
        return self._ok("POST", "customers",
                        {"account_nos": account_nos, "replace": replace})

    def counter_order(self, body):
        """A non-scbridge order (any reference): (status, doc)."""
        return self.ctl("POST", "orders", body)

    def ship_confirm(self, order_no=None, reference=None, lines=None,
                     packages=None, carrier=None, service=None,
                     ship_date=None, callback=True):
        """(status, doc); 201 doc is {"shipment": record}."""
        spec = {"callback": callback}
        for k, v in (("order_no", order_no), ("reference", reference),
                     ("lines", lines), ("packages", packages),
                     ("carrier", carrier), ("service", service),
                     ("ship_date", ship_date)):
            if v is not None:
                spec[k] = v
        return self.ctl("POST", "ship-confirm", spec)

    def orders(self, reference=None):
        params = {"reference": reference} if reference is not None else None
        return self._ok("GET", "orders", params=params)["items"]

    def all_shipments(self):
        return self._ok("GET", "shipments")["items"]

    def ledger(self):
        return self._ok("GET", "ledger")

    def callbacks(self):
        """{"messages": [...], "attempts": [...], "idle": bool}."""
        return self._ok("GET", "callbacks")

    def wait_idle(self, timeout=15):
        harness.wait_for(lambda: self.callbacks()["idle"], timeout=timeout,
                         what="sim-ddi webhooks to settle")

    def faults(self, rules, seed=None):
        body = {"rules": rules}
        if seed is not None:
            body["seed"] = seed
        return self._ok("POST", "faults", body)

    # -- bodies ---------------------------------------------------------

    @staticmethod
    def order_body(reference, lines, freight="0.00", tax="0.00",
                   discount="0.00", deposit=None, customer="WEB",
                   already_shipped=None, **extra):
        """A create body; lines are (product_no, qty, unit_price[, uom]).
        The deposit defaults to the order total."""
        out_lines = []
        total = cents(freight) + cents(tax) - cents(discount)
        for i, ln in enumerate(lines, 1):
            line = {"line_no": i, "product_no": ln[0], "qty": ln[1],
                    "unit_price": ln[2], "description": "item %d" % i}
            if len(ln) > 3:
                line["uom"] = ln[3]
            total += ln[1] * cents(ln[2])
            out_lines.append(line)
        addr = {"name": "Pat Buyer", "company": "", "address1": "1 Main St",
                "address2": "", "city": "Springfield", "state": "IL",
                "postal_code": "62701", "country": "US",
                "phone": "555-0100", "email": "pat@example.com"}
        body = {"reference": reference, "channel": "Amazon",
                "channel_order_id": "113-0000000-%07d" % (
                    zlib.crc32(reference.encode()) % 10000000),
                "branch": "01", "warehouse": "MAIN",
                "ship_via": "UPS GROUND", "customer": {"account_no": customer},
                "bill_to": addr, "ship_to": dict(addr), "lines": out_lines,
                "charges": {"freight": freight, "tax": tax,
                            "discount": discount},
                "deposit": {"amount": deposit or money(total),
                            "method": "CHANNEL", "reference": "PAY-1"}}
        if already_shipped is not None:
            body["already_shipped"] = already_shipped
        body.update(extra)
        return body


def dumps(doc):
    return json.dumps(doc, sort_keys=True)


def now_rfc3339(offset_s=0.0):
    t = time.time() + offset_s
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + \
        ".%03dZ" % int((t % 1) * 1000)
