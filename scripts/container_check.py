# SPDX-License-Identifier: MIT
"""The end-to-end part of the container test (scripts/container-test.sh).

Talks to the compose stack through the ports it publishes on 127.0.0.1
(SCB_PORT_* in the environment) and drives the replicas with the docker
command: pushes orders through the simulators, stops scbridge-1 with SIGTERM
and kills scbridge-2 with SIGKILL while they work, restarts both, and then
checks the end state with the checks of tests/e2e/test_import.py: every
Charged order exactly once in DDI with its deposit, cancelled ones
cancelled, every order's state recorded. Prints the start-up time of a
replica (docker start to /readyz 200) and the drain time after SIGTERM.

usage: container_check.py --project NAME [--orders N]   (standard library)
"""
import argparse
import json
import os
import random
import subprocess
import sys
import time
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import harness  # noqa: E402
import test_import as ti  # noqa: E402
from sim_ddi import DdiSim, cents  # noqa: E402
from sim_sc import ScSim  # noqa: E402

ADMIN_TOKEN = "demo-admin-token-0123456789abcdef0123"
DRAIN_S = 10  # SCBRIDGE_DRAIN_TIMEOUT in docker-compose.yml


def say(msg):
    print("container-check: %s" % msg)
    sys.stdout.flush()


def port(name):
    return int(os.environ["SCB_PORT_" + name])


def docker(*args, timeout=60):
    """Runs one docker command; answers its stdout (failures raise)."""
    r = subprocess.run(["docker"] + list(args), capture_output=True,
                       text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise AssertionError("docker %s: %s" % (" ".join(args),
                                                r.stderr.strip()))
    return r.stdout.strip()


class Replica:
    """One scbridge container of the stack, and its published admin port."""

    def __init__(self, project, service, admin_port):
        self.name = service
        self.admin = "http://127.0.0.1:%d" % admin_port
        ids = docker("ps", "-aq", "--filter",
                     "label=com.docker.compose.project=%s" % project,
                     "--filter",
                     "label=com.docker.compose.service=%s" % service)
        assert ids and len(ids.split()) == 1, (service, ids)
        self.id = ids

    def ready(self):
        try:
            return harness.http("GET", self.admin + "/readyz",
                                timeout=2)[0] == 200
        except OSError:
            return False

    def wait_ready(self, timeout=60):
        harness.wait_for(self.ready, timeout=timeout, step=0.02,
                         what="%s /readyz 200" % self.name)

    def state(self):
        return json.loads(docker("inspect", "-f", "{{json .State}}",
                                 self.id))

    def start(self):
        """Starts the container; answers seconds until /readyz is 200."""
        t = time.monotonic()
        docker("start", self.id)
        self.wait_ready()
        return time.monotonic() - t

    def stop_term(self):
        """docker stop (SIGTERM, then SIGKILL after 30s); answers the
        seconds it took and the exit code."""
        t = time.monotonic()
        docker("stop", "-t", "30", self.id, timeout=90)
        return time.monotonic() - t, self.state()["ExitCode"]

    def kill(self):
        docker("kill", "-s", "KILL", self.id)
        harness.wait_for(lambda: not self.state()["Running"], timeout=30,
                         what="%s to die" % self.name)
        return self.state()["ExitCode"]

    def metric(self, name, **labels):
        svc = harness.Service.__new__(harness.Service)
        svc.admin = self.admin
        return svc.metric(name, **labels)


def connect(project):
    """The stack as test_import's checks expect it: redis, sc and ddi."""
    redis = harness.Redis.__new__(harness.Redis)
    redis.port = port("REDIS")
    sc = ScSim.__new__(ScSim)
    sc.base = "http://127.0.0.1:%d" % port("SIM_SC")
    sc.rest = sc.base + "/rest"
    sc.username, sc.password = "scbridge", "sc-password"
    ddi = DdiSim.__new__(DdiSim)
    ddi.base = "http://127.0.0.1:%d" % port("SIM_DDI")
    ddi.api_key, ddi.company = "ddi-key", "01"
    reps = [Replica(project, "scbridge-1", port("ADMIN_1")),
            Replica(project, "scbridge-2", port("ADMIN_2"))]
    return types.SimpleNamespace(redis=redis, sc=sc, ddi=ddi), reps


def wait_stack(stack, reps):
    def sims_up():
        try:
            stack.sc.counters()
            stack.ddi.state()
            return True
        except (OSError, AssertionError, ValueError):
            return False
    harness.wait_for(sims_up, timeout=60, step=0.2, what="the simulators")
    for r in reps:
        r.wait_ready(timeout=90)
    lb = "http://127.0.0.1:%d/readyz" % port("ADMIN")
    harness.wait_for(lambda: _get_status(lb) == 200, timeout=30, step=0.2,
                     what="the load balancer")


def _get_status(url):
    try:
        return harness.http("GET", url, timeout=2)[0]
    except OSError:
        return None


def generate(stack, count):
    return stack.sc.generate(count, companies=[ti.COMPANY],
                             channels=ti.CHANNELS, skus=ti.SKUS,
                             broken_share=0.02, charged_share=0.8,
                             shipped_share=0.03)


def check_deposits(stack, orders):
    """Each imported order in DDI: its deposit is the GrandTotal, its
    quantities those of Sellercloud."""
    refs = ti.ddi_by_reference(stack.ddi)
    n = 0
    for o in orders:
        if o["StatusCode"] in (-1, 999):
            continue
        if not (ti.expected_import(o) and ti.totals_add_up(o)):
            continue
        ref = "SC-%d-%d" % (ti.COMPANY, o["ID"])
        got = refs.get(ref, [])
        assert len(got) == 1, (ref, len(got))
        d = got[0]
        assert cents(d["deposit"]["amount"]) == ti.sc_cents(
            o["GrandTotal"]), (ref, d["deposit"], o["GrandTotal"])
        assert sum(l["qty"] for l in d["lines"]) == \
            sum(l["Qty"] for l in o["Items"]), ref
        n += 1
    return n


def check_admin_api(stack, orders):
    """Where the admin API exists, it shows the state Redis holds."""
    url = "http://127.0.0.1:%d/admin/api/orders/" % port("ADMIN")
    h = {"Authorization": "Bearer " + ADMIN_TOKEN}
    seen = 0
    for o in orders[:20]:
        st, _, doc = harness.http_json("GET", url + str(o["ID"]),
                                       headers=h)
        if st == 404:
            say("admin API has no /admin/api/orders yet: states read "
                "from Redis only")
            return
        assert st == 200, (o["ID"], st, doc)
        rec = ti.order_state(stack, o["ID"])
        assert doc["state"] == rec["state"], (o["ID"], doc, rec)
        seen += 1
    say("admin API shows the same state as Redis for %d orders" % seen)


def check_redis_config(reps):
    """deploy/redis.conf is in force: scbridge's own check agrees."""
    for r in reps:
        for check in ("aof", "maxmemory_policy"):
            v = r.metric("scbridge_redis_config_warning", check=check)
            assert v == 0, (r.name, check, v)


def progress(stack, ids):
    """How far the orders are: 'N of M imported or shipped'."""
    done = 0
    for i in ids:
        rec = ti.order_state(stack, i)
        if rec and rec["state"] in ("imported", "shipped"):
            done += 1
    return "%d of %d orders imported so far" % (done, len(ids))


def summary(stack, ids):
    states = {}
    for i in ids:
        s = ti.order_state(stack, i)["state"]
        states[s] = states.get(s, 0) + 1
    return ", ".join("%s %d" % kv for kv in sorted(states.items()))


def run(project, count):
    rnd = random.Random(17)
    stack, (r1, r2) = connect(project)
    wait_stack(stack, [r1, r2])
    say("stack ready; pushing %d orders" % count)
    first = count * 3 // 5
    ids = generate(stack, first)
    time.sleep(1.5)

    say("SIGTERM to scbridge-1 with %s" % progress(stack, ids))
    drain_s, code = r1.stop_term()
    say("scbridge-1: SIGTERM mid-run, exited %d after %.1fs" % (code,
                                                               drain_s))
    assert code == 0, "scbridge-1 exit code after SIGTERM: %d" % code
    assert drain_s < DRAIN_S + 5, "drain took %.1fs" % drain_s
    ids += generate(stack, count - first)
    startup_1 = r1.start()
    say("scbridge-1: restarted, /readyz 200 %.2fs after docker start"
        % startup_1)

    time.sleep(1.0)
    ti.churn(stack, ids, rnd)
    say("SIGKILL to scbridge-2 with %s" % progress(stack, ids))
    code = r2.kill()
    say("scbridge-2: SIGKILL mid-run, exit code %d" % code)
    assert code == 137, code
    time.sleep(2.0)
    startup_2 = r2.start()
    say("scbridge-2: restarted, /readyz 200 %.2fs after docker start"
        % startup_2)

    stack.sc.wait_relay_idle(timeout=120)
    t = time.monotonic()
    ti.settle_all(stack, ids, timeout=300)
    say("all %d orders settled %.1fs after the last notification"
        % (len(ids), time.monotonic() - t))
    orders = ti.check_final(stack, ids)
    n = check_deposits(stack, orders)
    say("%d Charged orders in DDI exactly once with their deposits; "
        "no duplicates; cancelled ones cancelled" % n)
    say("states: %s" % summary(stack, ids))
    check_admin_api(stack, orders)
    check_redis_config([r1, r2])
    say("start-up time (docker start to /readyz 200): %.2fs and %.2fs"
        % (startup_1, startup_2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--project", required=True)
    ap.add_argument("--orders", type=int, default=400)
    args = ap.parse_args()
    try:
        run(args.project, args.orders)
    except (AssertionError, OSError, ValueError, KeyError,
            subprocess.SubprocessError) as e:
        say("FAILED: %s: %s" % (type(e).__name__, e))
        return 1
    say("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
