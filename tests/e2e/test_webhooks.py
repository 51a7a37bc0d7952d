# SPDX-License-Identifier: MIT
"""Inbound webhooks (contracts/webhooks.md) against the real binary and a
throwaway Redis: the checks in order, the answers, what reaches Redis and
what is counted. One behaviour per test.

Jobs are counted by the queue's job counter (<P>jobs:seq, one number per
job added, none for a coalesced one) and read wherever the queue keeps
them (stream, delayed set, dead letters), so the checks hold whether or
not workers have taken the jobs since."""
import base64
import json
import threading
import time

import harness
from harness import (DDI_KEY, SC_KEY, Redis, Service, base_env, http,
                     wait_for)

P = "scb:v1:"
SC = "/webhooks/sellercloud"
SHIP = "/webhooks/ddi/ship-confirm"
ITEMS = "/webhooks/ddi/items"
METRIC = "scbridge_webhooks_total"


def _sc_body(order_ids=(5012001, 5012002), company=163,
             kind="order.created"):
    return json.dumps({"type": kind, "company_id": company,
                       "order_ids": list(order_ids)}).encode()


def _ship_body(reference="SC-163-5012001", shipment_id="SH778899"):
    return json.dumps({
        "shipment_id": shipment_id, "order_no": "SO123456",
        "reference": reference, "confirmed_at": "2026-12-01T17:04:00Z",
        "ship_date": "2026-12-01", "carrier": "UPS", "service": "Ground",
        "packages": [{"tracking_no": "1Z999AA10123456784",
                      "weight_lb": "3.2"}],
        "lines": [{"line_no": 1, "product_no": "ABC-1", "qty_shipped": 2}],
        "complete": True, "deposit_applied": "48.18"}).encode()


def _items_body(nos=("ABC-1", "ABC-2")):
    return json.dumps({"type": "items.changed",
                       "product_nos": list(nos)}).encode()


def _start(**extra):
    redis = Redis()
    svc = Service(base_env(redis.url, extra=extra))
    return svc, redis


def _post(svc, route, body, key=None, headers=None, **sign):
    """POSTs 'body' signed with 'key' (SC_KEY for Sellercloud, else
    DDI_KEY) unless 'headers' are given; answers (status, headers,
    decoded JSON or None)."""
    if headers is None:
        key = key or (SC_KEY if route == SC else DDI_KEY)
        headers = harness.signed_headers(key, body, **sign)
    status, hdrs, data = http("POST", svc.base + route, body, headers)
    try:
        doc = json.loads(data) if data else None
    except ValueError:
        doc = None
    return status, hdrs, doc


WEBHOOK_TYPES = ("order.import", "tracking.push", "item.sync")


def _seq(redis):
    """How many jobs the webhooks put in the queue (the scheduler's poll
    jobs, which the service enqueues on its own, are not theirs)."""
    return len(_jobs(redis))


# Every job wherever it is, read in one atomic script: the stream (ready
# or taken), the delayed set (a retry) and the dead letters, so that a
# worker moving a job between them cannot hide it or show it twice.
_JOBS_LUA = """
return {redis.call('XRANGE', KEYS[1], '-', '+'),
        redis.call('HVALS', KEYS[2]),
        redis.call('XRANGE', KEYS[3], '-', '+')}
"""


def _jobs(redis):
    """Every job the queue holds, as dicts of their fields."""
    stream, delayed, dead = redis.cmd("EVAL", _JOBS_LUA, 3, P + "jobs",
                                      P + "jobs:delayed:data",
                                      P + "jobs:dead")
    out = []
    for _, fields in (stream or []) + (dead or []):
        out.append(dict(zip(fields[::2], fields[1::2])))
    for text in delayed or []:
        fields = json.loads(text)
        out.append(dict(zip(fields[::2], fields[1::2])))
    return [j for j in out if j.get("type") in WEBHOOK_TYPES]


def _webhook_keys(redis):
    return sorted(redis.cmd("KEYS", P + "webhook:*"))


def _count(svc, source, outcome):
    return svc.metric(METRIC, source=source, outcome=outcome)


def _assert_rejected(svc, redis, answer, status, body, source, outcome):
    """The answer is 'status' with 'body', nothing reached Redis, and the
    answer was counted once."""
    assert answer[0] == status, answer
    assert answer[2] == body, answer
    assert answer[1].get("content-type", "").startswith(
        "application/json"), answer[1]
    assert answer[1].get("x-request-id"), answer[1]
    assert _seq(redis) == 0
    assert _jobs(redis) == []
    assert _webhook_keys(redis) == []
    assert _count(svc, source, outcome) == 1


# ---- rejections: nothing enqueued, counted ----

def test_bad_signature_is_401_and_enqueues_nothing():
    svc, redis = _start()
    body = _sc_body()
    headers = harness.signed_headers(SC_KEY, body)
    headers["webhook-signature"] = harness.sign(SC_KEY, "other-id",
                                                int(time.time()), body)
    answer = _post(svc, SC, body, headers=headers)
    _assert_rejected(svc, redis, answer, 401, {"error": "bad_signature"},
                     "sellercloud", "unauthorized")


def test_other_sources_secret_does_not_verify():
    svc, redis = _start()
    answer = _post(svc, ITEMS, _items_body(), key=SC_KEY)
    _assert_rejected(svc, redis, answer, 401, {"error": "bad_signature"},
                     "ddi_items", "unauthorized")


def test_stale_timestamp_is_401_and_enqueues_nothing():
    svc, redis = _start()
    answer = _post(svc, SC, _sc_body(), ts=int(time.time()) - 301)
    _assert_rejected(svc, redis, answer, 401, {"error": "stale_timestamp"},
                     "sellercloud", "unauthorized")


def test_future_timestamp_is_401():
    svc, redis = _start()
    answer = _post(svc, SHIP, _ship_body(), ts=int(time.time()) + 301)
    _assert_rejected(svc, redis, answer, 401, {"error": "stale_timestamp"},
                     "ddi_ship_confirm", "unauthorized")


def test_missing_header_is_401_and_enqueues_nothing():
    svc, redis = _start()
    body = _sc_body()
    headers = harness.signed_headers(SC_KEY, body)
    del headers["webhook-id"]
    answer = _post(svc, SC, body, headers=headers)
    _assert_rejected(svc, redis, answer, 401, {"error": "missing_header"},
                     "sellercloud", "unauthorized")


def test_oversized_body_is_413_and_enqueues_nothing():
    svc, redis = _start(SCBRIDGE_WEBHOOK_MAX_BYTES="1024")
    body = _items_body(["P%04d" % i for i in range(200)])
    assert len(body) > 1024
    answer = _post(svc, ITEMS, body)
    _assert_rejected(svc, redis, answer, 413, {"error": "too_large"},
                     "ddi_items", "too_large")


def test_malformed_json_is_400_and_enqueues_nothing():
    svc, redis = _start()
    answer = _post(svc, SC, b'{"type":"order.created","company_id":163,')
    _assert_rejected(svc, redis, answer, 400, {"error": "bad_json"},
                     "sellercloud", "bad_request")


def test_body_over_a_limit_is_400_bad_json():
    svc, redis = _start()
    answer = _post(svc, SC, _sc_body(order_ids=range(1, 502)))
    _assert_rejected(svc, redis, answer, 400, {"error": "bad_json"},
                     "sellercloud", "bad_request")


def test_unknown_company_is_400_and_enqueues_nothing():
    svc, redis = _start()
    answer = _post(svc, SC, _sc_body(company=999))
    _assert_rejected(svc, redis, answer, 400, {"error": "unknown_company"},
                     "sellercloud", "bad_request")


def test_get_on_a_webhook_route_is_405_and_not_counted():
    svc, redis = _start()
    status, hdrs, data = http("GET", svc.base + SC)
    assert status == 405, status
    assert json.loads(data) == {"error": "method_not_allowed"}
    assert "POST" in hdrs.get("allow", ""), hdrs
    assert svc.metric(METRIC) == 0


# ---- accepted: jobs in Redis ----

def test_sellercloud_enqueues_one_import_per_distinct_order():
    svc, redis = _start()
    status, hdrs, doc = _post(svc, SC, _sc_body([11, 12, 11]),
                              msg_id="msg-sc-1")
    assert (status, doc) == (202, {"status": "accepted"}), (status, doc)
    assert hdrs.get("x-request-id")
    assert _seq(redis) == 2
    jobs = _jobs(redis)
    assert sorted(j["key"] for j in jobs) == ["order:11", "order:12"], jobs
    for j in jobs:
        assert j["type"] == "order.import"
        payload = json.loads(j["payload"])
        assert payload == {"v": 1, "company_id": 163,
                           "order_id": int(j["key"][6:]),
                           "source": "webhook"}, payload
    assert _webhook_keys(redis) == [P + "webhook:sellercloud:msg-sc-1"]
    ttl = redis.cmd("TTL", P + "webhook:sellercloud:msg-sc-1")
    assert 168 * 3600 - 60 < ttl <= 168 * 3600, ttl
    assert _count(svc, "sellercloud", "accepted") == 1


def test_ship_confirm_enqueues_one_tracking_push():
    svc, redis = _start()
    body = _ship_body()
    status, _, doc = _post(svc, SHIP, body)
    assert (status, doc) == (202, {"status": "accepted"}), (status, doc)
    jobs = _jobs(redis)
    assert _seq(redis) == 1 and len(jobs) == 1, jobs
    assert jobs[0]["type"] == "tracking.push"
    assert jobs[0]["key"] == "shipment:SH778899"
    payload = json.loads(jobs[0]["payload"])
    assert payload["v"] == 1 and payload["source"] == "webhook"
    assert payload["shipment"] == json.loads(body)
    assert _count(svc, "ddi_ship_confirm", "accepted") == 1


def test_shipment_id_longer_than_the_job_reads_is_400_and_enqueues_nothing():
    # DDI ids have a limit (128 bytes): a 202 for a record the tracking
    # job would pass over would lose its tracking, so it is refused.
    svc, redis = _start()
    long_id = "SH" + "9" * 298
    status, _, doc = _post(svc, SHIP, _ship_body(shipment_id=long_id))
    assert (status, doc) == (400, {"error": "bad_json"}), (status, doc)
    assert _jobs(redis) == []
    assert _count(svc, "ddi_ship_confirm", "bad_request") == 1


def test_items_enqueue_one_sync_per_distinct_product():
    # The running service takes item.sync jobs at once and finishes them
    # (a hint is noted and a poll asked for), so what the route enqueued
    # shows in the jobs counted and the hints those jobs noted.
    svc, redis = _start()
    status, _, doc = _post(svc, ITEMS, _items_body(["A-1", "B\"2", "A-1"]))
    assert (status, doc) == (202, {"status": "accepted"}), (status, doc)
    harness.wait_for(lambda: svc.metric("scbridge_jobs_total",
                                        type="item.sync") >= 2,
                     what="the item.sync jobs to run")
    time.sleep(0.5)
    assert svc.metric("scbridge_jobs_total", type="item.sync") == 2
    hints = redis.cmd("ZRANGE", P + "items:hints", 0, -1)
    assert sorted(hints) == ["A-1", 'B"2'], hints
    assert _count(svc, "ddi_items", "accepted") == 1


def test_several_secrets_any_one_verifies():
    # The old secret as whsec_..., the new one as bare base64.
    rotated = b"scbridge-rotated-key"
    secrets = "%s  %s" % (harness.SC_SECRET,
                          base64.b64encode(rotated).decode())
    svc, redis = _start(SCBRIDGE_WEBHOOK_SECRET_SC=secrets)
    status, _, doc = _post(svc, SC, _sc_body([1]), key=rotated)
    assert (status, doc) == (202, {"status": "accepted"}), (status, doc)
    status, _, doc = _post(svc, SC, _sc_body([2]), key=SC_KEY)
    assert (status, doc) == (202, {"status": "accepted"}), (status, doc)
    assert _seq(redis) == 2


# ---- dedupe ----

def test_duplicate_id_answers_duplicate_and_enqueues_nothing():
    svc, redis = _start()
    _post(svc, SC, _sc_body([21]), msg_id="msg-dup")
    assert _seq(redis) == 1
    # Another body under the same id: a retry of the message, not news.
    status, _, doc = _post(svc, SC, _sc_body([22]), msg_id="msg-dup")
    assert (status, doc) == (202, {"status": "duplicate"}), (status, doc)
    assert _seq(redis) == 1
    assert [j["key"] for j in _jobs(redis)] == ["order:21"]
    assert _count(svc, "sellercloud", "duplicate") == 1
    assert _count(svc, "sellercloud", "accepted") == 1


def test_same_id_on_another_route_is_not_a_duplicate():
    svc, redis = _start()
    status, _, doc = _post(svc, SHIP, _ship_body(), msg_id="msg-shared")
    assert doc == {"status": "accepted"}, (status, doc)
    status, _, doc = _post(svc, ITEMS, _items_body(["X"]),
                           msg_id="msg-shared")
    assert (status, doc) == (202, {"status": "accepted"}), (status, doc)
    # One job each: the item.sync one runs and finishes at once.
    harness.wait_for(lambda: svc.metric("scbridge_jobs_total",
                                        type="item.sync") >= 1,
                     what="the item.sync job to run")
    assert [j["type"] for j in _jobs(redis)] == ["tracking.push"]
    assert _webhook_keys(redis) == [P + "webhook:ddi_items:msg-shared",
                                    P + "webhook:ddi_ship_confirm:msg-shared"]


def test_concurrent_deliveries_of_one_id_enqueue_once():
    svc, redis = _start()
    body = _sc_body([31, 32, 33])
    headers = harness.signed_headers(SC_KEY, body, msg_id="msg-race")
    answers = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def deliver():
        start.wait()
        a = _post(svc, SC, body, headers=headers)
        with lock:
            answers.append((a[0], a[2]))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(answers) == 8, answers
    assert all(a[0] == 202 for a in answers), answers
    docs = [a[1]["status"] for a in answers]
    assert docs.count("accepted") == 1, docs
    assert docs.count("duplicate") == 7, docs
    assert _seq(redis) == 3


# ---- scope ----

def test_foreign_ship_confirm_is_ignored_and_counted():
    svc, redis = _start()
    status, hdrs, doc = _post(svc, SHIP, _ship_body(reference="POS-778812"),
                              msg_id="msg-pos")
    assert (status, doc) == (202, {"status": "ignored"}), (status, doc)
    assert hdrs.get("content-type", "").startswith("application/json")
    assert _seq(redis) == 0
    assert _webhook_keys(redis) == []
    assert _count(svc, "ddi_ship_confirm", "ignored") == 1
    assert svc.metric("scbridge_shipments_ignored_total", via="webhook") == 1


# ---- Redis ----

def test_redis_down_answers_503_with_retry_after():
    svc, redis = _start()
    redis.stop()
    status, hdrs, doc = _post(svc, SC, _sc_body())
    assert (status, doc) == (503, {"error": "unavailable"}), (status, doc)
    assert hdrs.get("retry-after") == "5", hdrs
    assert _count(svc, "sellercloud", "unavailable") == 1
    # Once Redis is back, the sender's retry is accepted.
    redis.start()
    wait_for(svc.ready, timeout=15, what="scbridge ready again")
    status, _, doc = _post(svc, SC, _sc_body())
    assert (status, doc) == (202, {"status": "accepted"}), (status, doc)


def test_redis_restart_between_webhooks_is_transparent():
    svc, redis = _start()
    status, _, doc = _post(svc, SC, _sc_body([41]))
    assert doc == {"status": "accepted"}, (status, doc)
    redis.restart()
    wait_for(svc.ready, timeout=15, what="scbridge ready again")
    # The handle used before died with the old server; it reconnects.
    status, _, doc = _post(svc, SC, _sc_body([42]))
    assert (status, doc) == (202, {"status": "accepted"}), (status, doc)
    assert [j["key"] for j in _jobs(redis)] == ["order:42"]


# ---- logs ----

def test_no_body_or_signature_in_logs():
    svc, redis = _start(SCBRIDGE_LOG_LEVEL="debug")
    # An accepted shipment's id may be logged by the job that handles it
    # (an id, not the body); a refused request's body never is.
    good = _ship_body(shipment_id="SH-ACCEPTED-1")
    headers = harness.signed_headers(DDI_KEY, good)
    _post(svc, SHIP, good, headers=headers)
    body = _ship_body(shipment_id="SH-SECRET-LOOKING-9931")
    bad = harness.signed_headers(DDI_KEY, body)
    bad["webhook-signature"] = "v1,AAAA"
    _post(svc, SHIP, body, headers=bad)
    _post(svc, SHIP, b"{not json SH-SECRET-LOOKING-9931")
    log = svc.proc.log()
    assert good.decode() not in log
    assert "SH-SECRET-LOOKING-9931" not in log
    assert "1Z999AA10123456784" not in log
    assert headers["webhook-signature"][3:] not in log
    assert "webhook answered" in log
