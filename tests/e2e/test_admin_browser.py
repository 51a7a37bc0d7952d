# SPDX-License-Identifier: MIT
"""The admin page in headless Chromium (tests/browser/admin.js).

An order whose product DDI does not know needs attention; the item is
then created in DDI, and the browser script signs in, finds the order,
retries its dead letter from the page and watches it import. Screenshots
go to <build dir>/screenshots/admin/. playwright-core (pinned in
tests/browser/package-lock.json) is installed with `npm ci` when missing;
Chromium is Debian's (scripts/install-deps.sh).
"""
import os
import subprocess

import harness
from test_admin import COMPANY, Stack, api

BROWSER_DIR = os.path.join(harness.ROOT, "tests", "browser")
CHROMIUM = "/usr/bin/chromium"


def ensure_playwright():
    mod = os.path.join(BROWSER_DIR, "node_modules", "playwright-core")
    if os.path.isdir(mod):
        return
    r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"],
                       cwd=BROWSER_DIR, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, "npm ci failed:\n" + r.stdout + r.stderr


def test_operator_retries_a_dead_letter_from_the_page_and_sees_it_import():
    assert os.access(CHROMIUM, os.X_OK), \
        "chromium missing: run scripts/install-deps.sh --test"
    ensure_playwright()
    stack = Stack()
    (oid,) = stack.unknown_product_orders(["ADM-WEB-1"])
    stack.wait_state(oid, "needs_attention")
    stack.add_item("ADM-WEB-1")
    shots = os.path.join(harness.BUILD, "screenshots", "admin")
    env = dict(os.environ, SCB_ADMIN_URL=stack.svc.admin + "/admin/",
               SCB_ADMIN_TOKEN=harness.ADMIN_TOKEN, SCB_ORDER_ID=str(oid),
               SCB_SCREENSHOTS=shots, SCB_CHROMIUM=CHROMIUM)
    r = subprocess.run(["node", os.path.join(BROWSER_DIR, "admin.js")],
                       cwd=BROWSER_DIR, env=env, capture_output=True,
                       text=True, timeout=120)
    print(r.stdout, end="")
    assert r.returncode == 0, r.stdout + r.stderr
    print("screenshots in %s" % shots)
    for name in ["01-prompt", "03-dashboard", "06-imported"]:
        assert os.path.getsize(os.path.join(shots, name + ".png")) > 1000
    status, _, o = api(stack.svc, "GET", "/admin/api/orders/%d" % oid)
    assert o["state"] == "imported" and o["ddi_order_no"], o
    assert "admin_retry" in [h["event"] for h in o["history"]]
    ref = "SC-%d-%d" % (COMPANY, oid)
    assert len(stack.ddi.orders(reference=ref)) == 1
