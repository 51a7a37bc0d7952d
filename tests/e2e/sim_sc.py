# SPDX-License-Identifier: MIT
"""ScSim: the Sellercloud simulator (build/<mode>/sim-sc) for tests.

    sim = ScSim(seed=7, rate_budget=100, tz="-05:00")
    ids = sim.generate(20, companies=[163])
    tok = sim.token()
    status, hdrs, doc = sim.call("GET", "/api/Orders?model.pageSize=50",
                                 token=tok)
    sim.breaches()   # contract breaches the service made

The process is registered with harness, so cleanup_all() stops it.
"""
import json
import os
import time
import urllib.parse

import harness

SWAGGER = os.path.normpath(os.path.join(
    harness.ROOT, "..", "shared", "contracts",
    "sellercloud-swagger-2022.json"))

# Constructor keyword -> command-line flag of sim-sc.
_FLAGS = {
    "seed": "--seed", "username": "--username", "password": "--password",
    "token_life_s": "--token-life", "rate_budget": "--rate-budget",
    "rate_window_s": "--rate-window", "tz": "--tz",
    "broken_share": "--broken-share", "relay_url": "--relay-url",
    "relay_secret": "--relay-secret", "relay_drop": "--relay-drop",
    "relay_dup": "--relay-dup", "generate": "--generate",
}


class ScSimError(AssertionError):
    pass


def request(method, url, body=None, headers=None, timeout=10):
    """One HTTP request; answers (status, headers lower-cased, bytes)."""
    return harness.http(method, url, body, headers, timeout)


class ScSim:
    """One sim-sc process on a free loopback port."""

    def __init__(self, port=0, swagger=None, companies=None, env=None,
                 name="sim-sc", **opts):
        argv = [harness.SIM_SC, "--port", str(port),
                "--swagger", swagger or SWAGGER]
        for key, value in opts.items():
            if value is None:
                continue
            if key not in _FLAGS:
                raise TypeError("unknown ScSim option %r" % key)
            argv += [_FLAGS[key], str(value)]
        if companies:
            argv += ["--companies", ",".join(str(c) for c in companies)]
        self.username = opts.get("username") or "scbridge"
        self.password = opts.get("password") or "sc-password"
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = harness.Proc(name, argv, full_env)
        self.port = harness.wait_for(self._read_port, timeout=15,
                                     what="sim-sc to print SIM_PORT")
        self.base = "http://127.0.0.1:%d" % self.port
        self.rest = self.base + "/rest"

    def _read_port(self):
        if not self.proc.alive():
            raise ScSimError("sim-sc exited: %s" % self.proc.log())
        for line in self.proc.log().splitlines():
            if line.startswith("SIM_PORT="):
                return int(line.split("=", 1)[1])
        return None

    def stop(self):
        return self.proc.stop()

    # ---- the Sellercloud API, as a client sees it ----

    def call(self, method, path, body=None, token=None, headers=None,
             timeout=10, raw=False):
        """A request to {rest}{path}; answers (status, headers, doc).

        'body' (dict/list) is sent as JSON; with raw=True the third value
        is the raw bytes instead of parsed JSON.
        """
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        status, hdrs, data = request(method, self.rest + path, body, h,
                                     timeout)
        if raw:
            return status, hdrs, data
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = None
        return status, hdrs, doc

    def token_doc(self, username=None, password=None):
        return self.call("POST", "/api/token", {
            "Username": username or self.username,
            "Password": password or self.password})

    def token(self):
        status, _, doc = self.token_doc()
        if status != 200:
            raise ScSimError("token call answered %d %r" % (status, doc))
        return doc["access_token"]

    # ---- the control API ----

    def ctl(self, method, path, body=None, expect=200):
        status, _, data = request(method, self.base + "/_sim" + path, body,
                                  {"Content-Type": "application/json"})
        doc = json.loads(data) if data else None
        if expect is not None and status != expect:
            raise ScSimError("%s /_sim%s answered %d %r"
                             % (method, path, status, doc))
        return doc

    def seed_orders(self, orders, notify=True):
        """Stores orders given in the list shape; answers their ids."""
        return self.ctl("POST", "/orders",
                        {"orders": orders, "notify": notify})["ids"]

    def generate(self, count, **params):
        """Generates orders (see the report for params); answers ids."""
        params["count"] = count
        return self.ctl("POST", "/orders/generate", params)["ids"]

    def order(self, order_id):
        return self.ctl("GET", "/orders/%d" % order_id)

    def orders(self):
        return self.ctl("GET", "/orders")["orders"]

    def action(self, order_id, action, body=None):
        return self.ctl("POST", "/orders/%d/%s" % (order_id, action),
                        body or {})

    def charge(self, order_id, notify=True):
        return self.action(order_id, "charge", {"notify": notify})

    def cancel(self, order_id, notify=True):
        return self.action(order_id, "cancel", {"notify": notify})

    def void(self, order_id, notify=True):
        return self.action(order_id, "void", {"notify": notify})

    def ship(self, order_id, tracking, carrier="UPS", service="Ground",
             ship_date=None, complete=False, notify=True):
        """Ships the order in Sellercloud itself (outside the service)."""
        body = {"TrackingNumber": tracking, "ShippingCarrier": carrier,
                "ShippingService": service, "complete": complete,
                "notify": notify}
        if ship_date:
            body["ShipDate"] = ship_date
        return self.action(order_id, "ship", body)

    def set_order(self, order_id, recompute_total=False, notify=True,
                  **fields):
        """Merges list-shape fields into the order (lines, totals...)."""
        fields["recompute_total"] = recompute_total
        fields["notify"] = notify
        return self.action(order_id, "set", fields)

    def products(self, sku=None):
        q = "?sku=" + urllib.parse.quote(sku, safe="") if sku else ""
        return self.ctl("GET", "/products" + q)["products"]

    def product(self, sku):
        found = self.products(sku)
        return found[0] if found else None

    def seed_products(self, products):
        return self.ctl("POST", "/products", {"products": products})

    def requests(self, limit=1000):
        return self.ctl("GET", "/requests?limit=%d" % limit)

    def breaches(self):
        return self.ctl("GET", "/breaches")

    def counters(self):
        return self.ctl("GET", "/counters")

    def config(self, **kw):
        return self.ctl("POST" if kw else "GET", "/config", kw or None)

    def clock(self, offset_s=None):
        if offset_s is None:
            return self.ctl("GET", "/clock")
        return self.ctl("POST", "/clock", {"offset_s": offset_s})

    def reset(self):
        return self.ctl("POST", "/reset")

    def relay_stats(self):
        return self.ctl("GET", "/relay")

    def relay(self, type_, order_ids):
        return self.ctl("POST", "/relay",
                        {"type": type_, "order_ids": order_ids})

    def faults(self, rules, seed=None):
        body = {"rules": rules}
        if seed is not None:
            body["seed"] = seed
        return self.ctl("POST", "/faults", body)

    def faults_state(self):
        return self.ctl("GET", "/faults")

    def wait_relay_idle(self, timeout=10):
        """Waits until every posted notification was sent or dropped."""
        def idle():
            st = self.relay_stats()
            done = st["delivered"] + st["failed"] + st["dropped"]
            return st if done >= st["posted"] else None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = idle()
            if st:
                return st
            time.sleep(0.05)
        raise ScSimError("relay still busy: %r" % self.relay_stats())
