# SPDX-License-Identifier: MIT
"""End-to-end tests of the job queue: tests/tools/queue-worker runs worker
threads with a test handler against a throwaway Redis; each job the
handler sees is counted in the hash scb:v1:test:seen (field: job number).
"""
import os
import socket
import threading
import time

import harness

TOOL = os.path.join(harness.BUILD, "tools", "queue-worker")
P = "scb:v1:"


def tool_argv(redis, *args, **opts):
    argv = [TOOL, "--redis", redis.url]
    for k, v in opts.items():
        argv += ["--" + k.replace("_", "-"), str(v)]
    return argv + list(args)


def enqueue(redis, n, **opts):
    proc = harness.Proc("enqueue", tool_argv(redis, "enqueue", str(n),
                                              batch=500, **opts))
    assert proc.wait(timeout=60) == 0, proc.log()
    assert ("enqueued %d" % n) in proc.log()


def worker(redis, name="worker", **opts):
    return harness.Proc(name, tool_argv(redis, "run", **opts))


def seen(redis):
    """The handler's counts, job number -> times seen."""
    flat = redis.cmd("HGETALL", P + "test:seen") or []
    return {int(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)}


def queue_empty(redis):
    return (redis.cmd("XLEN", P + "jobs") == 0 and
            redis.cmd("ZCARD", P + "jobs:delayed") == 0)


def wait_all_done(redis, n, timeout):
    harness.wait_for(lambda: queue_empty(redis) and
                     redis.cmd("HLEN", P + "test:seen") == n,
                     timeout=timeout, step=0.1, what="every job handled")


def test_ten_thousand_jobs_run_exactly_once_through_eight_workers():
    r = harness.Redis()
    enqueue(r, 10000)
    w = worker(r, workers=8)
    wait_all_done(r, 10000, timeout=60)
    assert w.stop() == 0, w.log()
    counts = seen(r)
    assert sorted(counts) == list(range(10000))
    twice = [n for n, c in counts.items() if c != 1]
    assert not twice, "handled more than once: %r" % twice[:10]
    assert r.cmd("XLEN", P + "jobs:dead") == 0


def test_worker_killed_mid_job_loses_nothing():
    r = harness.Redis()
    enqueue(r, 400)
    first = worker(r, "first", workers=4, lease=2, handler="slow:20")
    harness.wait_for(lambda: r.cmd("HLEN", P + "test:seen") >= 100,
                     timeout=20, what="first jobs handled")
    first.kill()  # SIGKILL with jobs in flight
    assert r.cmd("XPENDING", P + "jobs", "workers")[0] > 0
    second = worker(r, "second", workers=4, lease=2, handler="slow:20")
    wait_all_done(r, 400, timeout=40)
    assert second.stop() == 0, second.log()
    counts = seen(r)
    assert sorted(counts) == list(range(400))
    assert max(counts.values()) <= 2, counts
    assert r.cmd("XLEN", P + "jobs:dead") == 0
    assert "took back jobs from silent workers" in second.log()


def test_redis_restart_keeps_every_acknowledged_job():
    r = harness.Redis(appendonly=True)
    r.cmd("CONFIG", "SET", "appendfsync", "always")
    enqueue(r, 300)
    w = worker(r, workers=4, lease=5, handler="slow:20")
    harness.wait_for(lambda: r.cmd("HLEN", P + "test:seen") >= 50,
                     timeout=20, what="first jobs handled")
    r.proc.kill()  # SIGKILL: only what the AOF holds survives
    r.proc.p.wait()
    time.sleep(0.5)
    r.start()
    r.cmd("CONFIG", "SET", "appendfsync", "always")
    assert r.cmd("HLEN", P + "test:seen") < 300  # the rest came after
    wait_all_done(r, 300, timeout=40)
    assert w.alive()
    assert w.stop() == 0, w.log()
    assert sorted(seen(r)) == list(range(300))
    assert "redis unavailable" in w.log()
    assert r.cmd("XLEN", P + "jobs:dead") == 0


def commandstats(redis):
    calls = {}
    for line in redis.cmd("INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_"):
            name, _, rest = line[len("cmdstat_"):].partition(":")
            calls[name] = int(rest.split(",")[0].split("=")[1])
    return calls


def test_idle_workers_issue_only_blocking_reads_and_sweeps():
    r = harness.Redis()
    w = worker(r, workers=4, lease=6)  # a sweep every 2 s
    time.sleep(1.5)
    r.cmd("CONFIG", "RESETSTAT")
    time.sleep(6)
    calls = commandstats(r)
    assert w.stop() == 0, w.log()
    calls.pop("info", None)
    calls.pop("config|resetstat", None)
    # INFO counts the commands a script runs too: those of the sweep.
    sweeps = calls.pop("evalsha", 0)
    for inner in ("time", "zrangebyscore", "xautoclaim", "zrange"):
        assert calls.pop(inner, 0) <= sweeps, calls
    assert set(calls) <= {"xreadgroup"}, calls
    # Reads block 5 s: at most two each in 6 s, plus one cut short.
    assert calls.get("xreadgroup", 0) <= 4 * 3, calls
    assert 1 <= sweeps <= 4, sweeps


def test_failing_job_ends_in_dead_letters_with_its_last_error():
    r = harness.Redis()
    enqueue(r, 1)
    w = worker(r, attempts=3, base=0, cap=0, handler="fail")
    harness.wait_for(lambda: r.cmd("XLEN", P + "jobs:dead") == 1,
                     timeout=20, what="a dead letter")
    assert seen(r) == {0: 3}
    entry = r.cmd("XRANGE", P + "jobs:dead", "-", "+")[0]
    fields = dict(zip(entry[1][::2], entry[1][1::2]))
    assert fields["reason"] == "ATTEMPTS_EXHAUSTED: failed 3 attempts"
    assert fields["error"] == "test failure on attempt 3"
    assert fields["attempts"] == "3"
    assert w.stop() == 0, w.log()
    assert queue_empty(r)


class FakeOldRedis:
    """Answers like a Redis 6.0: INFO says so, anything else is OK."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        conn, _ = self.sock.accept()
        f = conn.makefile("rb")
        while True:
            line = f.readline()
            if not line:
                break
            n = int(line[1:])
            args = []
            for _ in range(n):
                size = int(f.readline()[1:])
                args.append(f.read(size + 2)[:-2])
            if args[0].upper() == b"INFO":
                body = b"# Server\r\nredis_version:6.0.9\r\n"
                conn.sendall(b"$%d\r\n%s\r\n" % (len(body), body))
            else:
                conn.sendall(b"+OK\r\n")
        conn.close()


def test_redis_older_than_6_2_is_refused():
    fake = FakeOldRedis()
    url = "redis://127.0.0.1:%d/0" % fake.port
    proc = harness.Proc("check", [TOOL, "--redis", url, "check"])
    assert proc.wait() == 1
    assert "redis 6.0 is older than 6.2" in proc.log(), proc.log()
