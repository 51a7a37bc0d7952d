# SPDX-License-Identifier: MIT
"""The foundation of the real binary: command line, configuration errors,
probes, metrics, the HTTP rules of contracts/operations.md ("HTTP"), the
drain at SIGTERM, and the log format. One behaviour per test."""
import http.client as http_client
import json
import os
import signal
import socket
import subprocess
import time

import harness
from harness import (Proc, Redis, Service, base_env, free_port, http,
                     wait_for)


def _run(args, env, timeout=30):
    """Runs scbridge with 'args'; answers (exit status, stdout, stderr)."""
    p = subprocess.run([harness.SCBRIDGE] + args, env=env,
                       capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def _offline_env(**extra):
    """A valid environment whose Redis nobody listens on."""
    return base_env("redis://127.0.0.1:%d/0" % free_port(), extra=extra)


def _raw(port, data, timeout=5.0):
    """Sends raw bytes; answers every byte received until the server
    closes the connection or goes quiet for 'timeout' seconds."""
    out = b""
    with socket.create_connection(("127.0.0.1", port), timeout) as s:
        s.sendall(data)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
    return out


def _status(raw_answer):
    line = raw_answer.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) >= 2 else 0


def _port(url):
    return int(url.rsplit(":", 1)[1])


def _service(redis=None, **extra):
    redis = redis or Redis()
    return Service(base_env(redis.url, extra=extra)), redis


def _wait_exit(proc, timeout):
    """Waits for the process to end; answers (status, seconds taken)."""
    start = time.monotonic()
    rc = proc.wait(timeout=timeout)
    return rc, time.monotonic() - start


# ---- command line -----------------------------------------------------------

def test_check_config_without_sc_base_url_exits_2_naming_it():
    env = _offline_env()
    del env["SCBRIDGE_SC_BASE_URL"]
    rc, out, err = _run(["--check-config"], env)
    assert rc == 2, (rc, out, err)
    assert "SCBRIDGE_SC_BASE_URL" in err, err
    lines = [ln for ln in err.splitlines() if ln]
    assert all(ln.startswith("scbridge: SCBRIDGE_") for ln in lines), err


def test_service_without_sc_base_url_exits_2():
    env = _offline_env()
    del env["SCBRIDGE_SC_BASE_URL"]
    rc, out, err = _run([], env)
    assert rc == 2, (rc, out, err)
    assert "SCBRIDGE_SC_BASE_URL" in err, err


def test_secret_from_file_is_used_and_never_printed():
    secret = "file-secret-7f3a9c1e55d0"
    d = harness.tmpdir()
    path = os.path.join(d, "sc_password")
    with open(path, "w") as f:
        f.write(secret + "\n")
    redis = Redis()
    env = base_env(redis.url, extra={"SCBRIDGE_SC_PASSWORD_FILE": path})
    del env["SCBRIDGE_SC_PASSWORD"]

    rc, out, err = _run(["--check-config"], env)
    assert rc == 0, (rc, out, err)
    assert "SCBRIDGE_SC_PASSWORD=***" in out.splitlines(), out
    assert secret not in out and secret not in err

    svc = Service(env)
    for path_ in ("/livez", "/readyz", "/metrics", "/nope?x=" + secret):
        http("GET", svc.admin + path_)
    assert svc.proc.stop() == 0
    log = svc.proc.log()
    assert "SCBRIDGE_SC_PASSWORD" in log, "effective config not logged"
    assert secret not in log


def test_check_config_and_file_both_set_exits_2():
    d = harness.tmpdir()
    path = os.path.join(d, "pw")
    with open(path, "w") as f:
        f.write("x\n")
    env = _offline_env(SCBRIDGE_SC_PASSWORD_FILE=path)
    rc, out, err = _run(["--check-config"], env)
    assert rc == 2, (rc, out, err)
    assert "SCBRIDGE_SC_PASSWORD" in err, err


def test_version_prints_version_and_git_sha():
    rc, out, err = _run(["--version"], {"PATH": os.environ["PATH"]})
    assert rc == 0, (rc, out, err)
    with open(os.path.join(harness.ROOT, "VERSION")) as f:
        version = f.read().strip()
    words = out.split()
    assert len(out.splitlines()) == 1, out
    assert words[0] == "scbridge" and words[1] == version, out
    assert words[2].startswith("(") and words[2].endswith(")"), out
    assert len(words[2]) > 2, out


def test_help_prints_usage_on_stdout():
    rc, out, err = _run(["--help"], {"PATH": os.environ["PATH"]})
    assert rc == 0, (rc, out, err)
    assert out.startswith("usage: scbridge"), out
    assert "--check-config" in out and err == ""


def test_unknown_option_prints_usage_on_stderr_and_exits_2():
    for args in (["--bogus"], ["extra"], ["--version", "--help"]):
        rc, out, err = _run(args, {"PATH": os.environ["PATH"]})
        assert rc == 2, (args, rc, out, err)
        assert err.startswith("usage: scbridge"), (args, err)
        assert out == "", (args, out)


def test_listen_address_in_use_exits_1_with_a_log_line():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        env = _offline_env(SCBRIDGE_LISTEN="127.0.0.1:%d" % port)
        proc = Proc("scbridge", [harness.SCBRIDGE], env)
        rc = proc.wait(timeout=20)
        assert rc == 1, (rc, proc.log())
        errors = [ln for ln in proc.log_lines_json()
                  if ln.get("level") == "error"]
        assert any(str(port) in json.dumps(ln) for ln in errors), \
            proc.log()
    finally:
        holder.close()


# ---- probes and Redis -------------------------------------------------------

def test_probes_answer_json():
    svc, _ = _service()
    status, hdrs, doc = svc.get("/livez")
    assert (status, doc) == (200, {"status": "ok"})
    assert hdrs["content-type"] == "application/json"
    status, hdrs, doc = svc.get("/readyz")
    assert (status, doc) == (200, {"status": "ready"})


def test_readyz_says_redis_when_redis_unreachable_at_start():
    env = _offline_env()
    svc = Service(env, wait_ready=False)

    def unready():
        status, _, doc = svc.get("/readyz")
        return doc if status == 503 else None

    doc = wait_for(unready, what="/readyz 503")
    assert doc["status"] == "unready", doc
    assert doc["reason"] in ("redis", "starting"), doc
    wait_for(lambda: svc.get("/readyz")[2] == {"status": "unready",
                                                "reason": "redis"},
             timeout=10, what="reason redis")
    assert svc.get("/livez")[0] == 200


def test_redis_outage_flips_readyz_and_back_while_livez_stays_up():
    svc, redis = _service()
    redis.stop()
    deadline = time.monotonic() + 15
    while True:
        assert svc.get("/livez")[0] == 200
        status, _, doc = svc.get("/readyz")
        if status == 503:
            break
        assert time.monotonic() < deadline, "readyz stayed 200"
        time.sleep(0.1)
    assert doc == {"status": "unready", "reason": "redis"}, doc
    redis.start()
    wait_for(lambda: svc.get("/readyz")[0] == 200, timeout=15,
             what="readyz back to 200")
    assert svc.get("/readyz")[2] == {"status": "ready"}
    assert svc.proc.alive()


def test_readyz_stays_fast_and_says_redis_while_redis_hangs():
    svc, redis = _service()
    redis.proc.signal(signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 15
        while True:
            start = time.monotonic()
            status, _, doc = svc.get("/readyz")
            assert time.monotonic() - start < 1.0, "readyz blocked"
            if status == 503:
                break
            assert time.monotonic() < deadline, "readyz stayed 200"
            time.sleep(0.1)
        assert doc == {"status": "unready", "reason": "redis"}, doc
        assert svc.get("/livez")[0] == 200
    finally:
        redis.proc.signal(signal.SIGCONT)
    wait_for(lambda: svc.get("/readyz")[0] == 200, timeout=15,
             what="readyz back to 200")


def test_metrics_pass_promtool_check():
    svc, _ = _service()
    http("GET", svc.base + "/nope")
    http("POST", svc.base + "/livez")
    http("GET", svc.base + "/livez")
    status, hdrs, data = http("GET", svc.admin + "/metrics")
    assert status == 200
    assert hdrs["content-type"] == \
        "text/plain; version=0.0.4; charset=utf-8", hdrs
    p = subprocess.run(["promtool", "check", "metrics"], input=data,
                       capture_output=True, timeout=30)
    assert p.returncode == 0, (p.stdout, p.stderr, data.decode())
    text = data.decode()
    assert "# TYPE scbridge_http_requests_total counter" in text
    assert "# TYPE scbridge_http_request_duration_seconds histogram" in text
    with open(os.path.join(harness.ROOT, "VERSION")) as f:
        version = f.read().strip()
    assert 'scbridge_build_info{version="%s"} 1' % version in text


def test_http_metrics_count_by_route_pattern_and_code():
    svc, _ = _service()
    m = "scbridge_http_requests_total"
    before = (svc.metric(m, route="/livez", code="200"),
              svc.metric(m, route="unmatched", code="404"),
              svc.metric(m, route="/readyz", code="405"),
              svc.metric("scbridge_http_request_duration_seconds_count",
                         route="/livez"))
    for _ in range(3):
        http("GET", svc.base + "/livez?probe=1")
    http("GET", svc.base + "/no/such/route")
    http("DELETE", svc.base + "/readyz")
    after = (svc.metric(m, route="/livez", code="200"),
             svc.metric(m, route="unmatched", code="404"),
             svc.metric(m, route="/readyz", code="405"),
             svc.metric("scbridge_http_request_duration_seconds_count",
                        route="/livez"))
    assert [a - b for a, b in zip(after, before)] == [3, 1, 1, 3], \
        (before, after)


# ---- HTTP rules -------------------------------------------------------------

def test_unknown_route_answers_404_json():
    svc, _ = _service()
    status, hdrs, data = http("GET", svc.base + "/no/such/thing")
    assert status == 404
    assert hdrs["content-type"] == "application/json"
    assert json.loads(data) == {"error": "not_found"}


def test_wrong_method_answers_405_with_allow():
    svc, _ = _service()
    status, hdrs, data = http("POST", svc.base + "/livez", body=b"{}")
    assert status == 405
    assert json.loads(data) == {"error": "method_not_allowed"}
    assert hdrs["content-type"] == "application/json"
    allowed = [m.strip() for m in hdrs["allow"].split(",")]
    assert "GET" in allowed and "POST" not in allowed, hdrs


def test_body_over_limit_by_content_length_answers_413():
    svc, _ = _service(SCBRIDGE_WEBHOOK_MAX_BYTES="2048")
    req = (b"GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n"
           b"Connection: close\r\n\r\n")
    answer = _raw(_port(svc.base), req)
    assert _status(answer) == 413, answer
    assert answer.endswith(b'{"error":"too_large"}'), answer
    assert b"X-Request-Id: " in answer, answer


def test_chunked_body_over_limit_answers_413():
    svc, _ = _service(SCBRIDGE_WEBHOOK_MAX_BYTES="2048")
    chunk = b"%x\r\n%s\r\n" % (1000, b"a" * 1000)
    req = (b"GET /livez HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
           b"\r\nConnection: close\r\n\r\n" + chunk * 3 + b"0\r\n\r\n")
    answer = _raw(_port(svc.base), req)
    assert _status(answer) == 413, answer
    assert answer.endswith(b'{"error":"too_large"}'), answer
    small = (b"GET /livez HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
             b"\r\nConnection: close\r\n\r\n" + chunk * 2 + b"0\r\n\r\n")
    assert _status(_raw(_port(svc.base), small)) == 200


def test_malformed_requests_answer_4xx_and_server_keeps_serving():
    svc, _ = _service()
    port = _port(svc.base)
    bad = [
        b"GET /livez HTTP/1.1 trailing-junk\r\nHost: x\r\n\r\n",
        b"GET /livez HTTP/1.1\r\n\r\n",  # HTTP/1.1 without Host
        b"GET /livez HTTP/1.1\r\nHost: x\r\n folded: header\r\n\r\n",
        b"GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 +
        b"\r\n\r\n",
    ]
    for req in bad:
        status = _status(_raw(port, req))
        assert 400 <= status < 500, (req[:60], status)
        assert http("GET", svc.base + "/livez")[0] == 200
    # A request line with no URI is dropped without an answer by
    # libmicrohttpd; the server must still serve the next client.
    _raw(port, b"GARBAGE\r\n\r\n", timeout=2)
    assert http("GET", svc.base + "/livez")[0] == 200
    assert svc.proc.alive()


def test_request_id_is_echoed_when_given():
    svc, _ = _service()
    status, hdrs, _ = http("GET", svc.base + "/livez",
                           headers={"X-Request-Id": "trace-42 abc"})
    assert status == 200
    assert hdrs["x-request-id"] == "trace-42 abc"
    status, hdrs, _ = http("GET", svc.base + "/nope",
                           headers={"X-Request-Id": "t-404"})
    assert (status, hdrs["x-request-id"]) == (404, "t-404")
    lines = [ln for ln in svc.proc.log_lines_json()
             if ln.get("msg") == "request"]
    assert any(ln.get("req") == "trace-42 abc" for ln in lines), lines


def test_request_id_is_generated_when_absent_or_invalid():
    svc, _ = _service()
    seen = set()
    for given in (None, "x" * 65):
        hdrs_in = {"X-Request-Id": given} if given else {}
        status, hdrs, _ = http("GET", svc.base + "/livez", headers=hdrs_in)
        rid = hdrs["x-request-id"]
        assert status == 200 and 1 <= len(rid) <= 64, hdrs
        assert rid != given
        seen.add(rid)
    assert len(seen) == 2, seen


def test_admin_listen_moves_probes_metrics_and_admin_off_the_main_port():
    redis = Redis()
    env = base_env(redis.url, extra={
        "SCBRIDGE_ADMIN_LISTEN": "127.0.0.1:%d" % free_port()})
    svc = Service(env)
    for path in ("/livez", "/readyz", "/metrics"):
        assert http("GET", svc.admin + path)[0] == 200, path
        status, _, data = http("GET", svc.base + path)
        assert status == 404, (path, status)
        assert json.loads(data) == {"error": "not_found"}
    status, _, _ = http("POST", svc.admin + "/webhooks/sellercloud",
                        body=b"{}")
    assert status == 404


def test_admin_listen_keeps_webhooks_on_the_main_port():
    redis = Redis()
    env = base_env(redis.url, extra={
        "SCBRIDGE_ADMIN_LISTEN": "127.0.0.1:%d" % free_port()})
    svc = Service(env)
    for path in ("/webhooks/sellercloud", "/webhooks/ddi/ship-confirm",
                 "/webhooks/ddi/items"):
        status, _, _ = http("POST", svc.base + path, body=b"{}")
        assert status != 404, (path, status)
        status, _, _ = http("POST", svc.admin + path, body=b"{}")
        assert status == 404, (path, status)


# ---- drain ------------------------------------------------------------------

def _slow_request(port, parts, pause):
    """Opens a connection, sends the first part, and returns a function
    that sends the rest with 'pause' seconds between parts and answers
    what the server replied."""
    s = socket.create_connection(("127.0.0.1", port), 15)
    s.sendall(parts[0])

    def finish():
        try:
            for p in parts[1:]:
                time.sleep(pause)
                s.sendall(p)
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
            return out
        finally:
            s.close()
    return finish


def test_sigterm_lets_a_slow_body_finish_then_exits_0():
    svc, _ = _service(SCBRIDGE_DRAIN_TIMEOUT="10s")
    body = b"x" * 40
    head = (b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    finish = _slow_request(_port(svc.base), [head] +
                           [body[i:i + 4] for i in range(0, 40, 4)], 0.2)
    time.sleep(0.2)
    svc.proc.signal(signal.SIGTERM)
    answer = finish()  # about 2 s of trickled body after the signal
    assert _status(answer) == 200, answer
    rc, secs = _wait_exit(svc.proc, timeout=15)
    assert rc == 0, svc.proc.log()
    msgs = [ln.get("msg") for ln in svc.proc.log_lines_json()]
    assert "drain started" in msgs and "stopped" in msgs, msgs
    assert "drain timed out" not in msgs


def test_sigterm_lets_slow_headers_finish_and_refuses_new_connections():
    svc, _ = _service(SCBRIDGE_DRAIN_TIMEOUT="10s")
    port = _port(svc.base)
    finish = _slow_request(port, [b"GET /livez HTTP/1.1\r\n", b"Host: x\r\n",
                                  b"X-A: 1\r\n", b"X-B: 2\r\n", b"\r\n"],
                           0.5)
    time.sleep(0.2)
    svc.proc.signal(signal.SIGTERM)
    time.sleep(0.3)
    try:
        socket.create_connection(("127.0.0.1", port), 2).close()
        refused = False
    except OSError:
        refused = True
    answer = finish()
    assert _status(answer) == 200, answer
    assert b"Connection: close" in answer, answer
    assert refused, "a new connection was accepted while draining"
    rc, _ = _wait_exit(svc.proc, timeout=15)
    assert rc == 0, svc.proc.log()


def test_readyz_says_draining_on_an_open_connection():
    svc, _ = _service(SCBRIDGE_DRAIN_TIMEOUT="10s")
    port = _port(svc.base)
    conn = http_client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/livez")
    conn.getresponse().read()
    finish = _slow_request(port, [b"GET /livez HTTP/1.1\r\n", b"Host: x\r\n",
                                  b"\r\n"], 1.0)
    time.sleep(0.2)
    svc.proc.signal(signal.SIGTERM)
    time.sleep(0.3)
    conn.request("GET", "/readyz")
    r = conn.getresponse()
    doc = json.loads(r.read())
    assert r.status == 503, (r.status, doc)
    assert doc == {"status": "unready", "reason": "draining"}, doc
    assert r.getheader("Connection") == "close"
    conn.close()
    finish()
    assert _wait_exit(svc.proc, timeout=15)[0] == 0


def test_drain_bound_running_out_still_exits_0():
    svc, _ = _service(SCBRIDGE_DRAIN_TIMEOUT="1s")
    s = socket.create_connection(("127.0.0.1", _port(svc.base)), 10)
    s.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
              b"\r\nabc")  # never completed
    time.sleep(0.2)
    svc.proc.signal(signal.SIGTERM)
    rc, secs = _wait_exit(svc.proc, timeout=15)
    s.close()
    assert rc == 0, svc.proc.log()
    assert secs < 6, secs  # 1 s bound, plus the sanitizer's exit
    msgs = [ln.get("msg") for ln in svc.proc.log_lines_json()]
    assert "drain timed out" in msgs, msgs


def test_sighup_is_ignored():
    svc, _ = _service()
    svc.proc.signal(signal.SIGHUP)
    time.sleep(0.5)
    assert svc.proc.alive()
    assert svc.get("/readyz")[0] == 200


# ---- logs -------------------------------------------------------------------

def test_log_lines_are_json_with_leading_keys_and_no_query_strings():
    svc, _ = _service()
    http("GET", svc.base + "/livez?secretquery=hunter2",
         headers={"X-Request-Id": "log-test-1"})
    http("GET", svc.base + "/nope?other=hunter3",
         headers={"X-Request-Id": "log-test-2"})
    assert svc.proc.stop() == 0
    text = svc.proc.log()
    assert "hunter2" not in text and "hunter3" not in text
    assert "secretquery" not in text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert lines
    access = {}
    for ln in lines:
        doc = json.loads(ln)  # every line is one JSON object
        assert list(doc)[:4] == ["ts", "level", "mod", "msg"], ln
        assert doc["level"] in ("debug", "info", "warn", "error"), ln
        if doc["msg"] == "request":
            access[doc["req"]] = doc
    mine = [access.get("log-test-1"), access.get("log-test-2")]
    assert None not in mine, access
    assert [d["route"] for d in mine] == ["/livez", "unmatched"], mine
    assert [d["status"] for d in mine] == [200, 404], mine
    for d in mine:
        assert list(d)[4] == "req", d
        assert d["level"] == "info" and d["method"] == "GET", d
        assert "ms" in d and d["bytes"] > 0, d


# ---- the HTTP server module, through tools/httpd-probe ----------------------

PROBE = os.path.join(harness.BUILD, "tools", "httpd-probe")


class _Probe:
    """tools/httpd-probe on free ports; 'admin' is None for one listener."""

    def __init__(self, admin=True, max_body=1024):
        self.dir = harness.tmpdir()
        self.port = free_port()
        self.admin_port = free_port() if admin else None
        argv = [PROBE, str(self.port),
                str(self.admin_port) if admin else "-", str(max_body),
                self.dir]
        self.proc = Proc("httpd-probe", argv, harness.base_env(
            "redis://127.0.0.1:9/0"))
        self.base = "http://127.0.0.1:%d" % self.port
        self.admin = "http://127.0.0.1:%d" % (self.admin_port or self.port)
        wait_for(self._up, what="httpd-probe to listen")

    def _up(self):
        if not self.proc.alive():
            raise AssertionError("httpd-probe exited: %s" % self.proc.log())
        try:
            return http("GET", self.admin + "/admin/", timeout=2)[0] == 200
        except OSError:
            return False


def test_path_params_query_values_headers_and_body_reach_the_handler():
    p = _Probe()
    status, hdrs, data = http(
        "POST", p.base + "/echo/one%20x/and/2?q=a&flag&q=b%26c&q=",
        body=b'{"k":1}', headers={"X-Test": "hello",
                                  "X-Request-Id": "probe-1"})
    assert status == 200, data
    doc = json.loads(data)
    assert doc["route"] == "/echo/{a}/and/{b}", doc
    assert (doc["a"], doc["b"], doc["zz"]) == ("one x", "2", None), doc
    assert doc["q"] == ["a", "b&c", ""] and doc["q_count"] == 3, doc
    assert doc["q_first"] == "a" and doc["flag"] == "", doc
    assert doc["has_query"] is True, doc
    assert doc["x_test"] == "hello" and doc["id"] == "probe-1", doc
    assert (doc["body_len"], doc["body"]) == (7, '{"k":1}'), doc
    assert doc["method"] == "POST" and doc["path"] == "/echo/one x/and/2"
    status, _, data = http("POST", p.base + "/echo/1/and/2")
    doc = json.loads(data)
    assert doc["has_query"] is False and doc["q"] == [], doc
    assert doc["q_first"] is None and doc["body_len"] == 0, doc


def test_param_segments_must_be_whole_and_non_empty():
    p = _Probe()
    for path in ("/echo//and/2", "/echo/1/and/", "/echo/1/and/2/3",
                 "/echo/1/2"):
        status, _, _ = http("POST", p.base + path, body=b"")
        assert status == 404, (path, status)


def test_prefix_route_serves_files_and_404s_a_missing_one():
    p = _Probe()
    with open(os.path.join(p.dir, "hello.txt"), "w") as f:
        f.write("hello file\n")
    status, hdrs, data = http("GET", p.admin + "/files/hello.txt")
    assert (status, data) == (200, b"hello file\n")
    assert hdrs["content-type"] == "text/plain; charset=utf-8", hdrs
    assert hdrs["content-length"] == "11"
    status, hdrs, data = http("GET", p.admin + "/files/nope.txt")
    assert status == 404 and json.loads(data) == {"error": "not_found"}
    assert hdrs["content-type"] == "application/json"
    status, _, _ = http("GET", p.admin + "/files/../etc/passwd")
    assert status in (400, 404), status


def test_head_on_a_get_route_answers_headers_without_body():
    p = _Probe()
    status, hdrs, data = http("HEAD", p.admin + "/headers")
    assert status == 200 and data == b"", (status, data)
    assert hdrs["retry-after"] == "7", hdrs
    status, hdrs, _ = http("PUT", p.admin + "/headers", body=b"")
    allowed = [m.strip() for m in hdrs["allow"].split(",")]
    assert status == 405 and sorted(allowed) == ["GET", "HEAD"], hdrs


def test_handler_answers_carry_extra_headers_and_request_id():
    p = _Probe()
    status, hdrs, _ = http("GET", p.admin + "/headers")
    assert status == 200
    assert hdrs["retry-after"] == "7"
    assert hdrs["cache-control"] == "no-store"
    assert hdrs["www-authenticate"] == "Bearer"
    assert len(hdrs["x-request-id"]) > 0


def test_handler_that_answers_nothing_gives_500_json():
    p = _Probe()
    status, hdrs, data = http("GET", p.admin + "/silent")
    assert status == 500, status
    assert json.loads(data) == {"error": "internal"}
    assert hdrs["content-type"] == "application/json"


def test_error_codes_map_to_one_status_each():
    p = _Probe()
    want = {"inval": (400, "bad_request"), "auth": (401, "unauthorized"),
            "notfound": (404, "not_found"), "toobig": (413, "too_large"),
            "store": (503, "unavailable"), "nomem": (500, "internal")}
    for name, (code, error) in want.items():
        status, hdrs, data = http("GET", p.admin + "/err/" + name)
        assert (status, json.loads(data)) == (code, {"error": error}), name
        if code == 503:
            assert hdrs["retry-after"] == "5", hdrs


def test_zones_split_routes_between_the_two_listeners():
    p = _Probe(admin=True)
    assert http("POST", p.admin + "/echo/1/and/2", body=b"")[0] == 404
    assert http("GET", p.base + "/admin/")[0] == 404
    assert http("GET", p.base + "/headers")[0] == 404
    assert http("POST", p.base + "/echo/1/and/2", body=b"")[0] == 200
    assert http("GET", p.admin + "/admin/")[0] == 200
    one = _Probe(admin=False)
    assert http("POST", one.base + "/echo/1/and/2", body=b"")[0] == 200
    assert http("GET", one.base + "/admin/")[0] == 200


def test_drain_waits_for_a_running_handler():
    p = _Probe()
    s = socket.create_connection(("127.0.0.1", p.admin_port), 10)
    s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)  # the handler is sleeping now
    p.proc.signal(signal.SIGTERM)
    answer = b""
    while not answer.endswith(b'{"slow":true}'):
        chunk = s.recv(65536)
        if not chunk:
            break
        answer += chunk
    s.close()
    assert _status(answer) == 200, answer
    assert b"Connection: close" in answer, answer
    assert p.proc.wait(timeout=15) == 0
    assert "idle true" in p.proc.log()


def test_sigterm_lets_a_trickled_webhook_finish_with_503():
    svc, _ = _service(SCBRIDGE_DRAIN_TIMEOUT="10s")
    body = json.dumps({"type": "order.created", "company_id": 163,
                       "order_ids": [5012001]}).encode()
    hdrs = harness.signed_headers(harness.SC_KEY, body)
    head = b"POST /webhooks/sellercloud HTTP/1.1\r\nHost: x\r\n"
    for k, v in hdrs.items():
        head += b"%s: %s\r\n" % (k.encode(), v.encode())
    head += b"Content-Length: %d\r\n\r\n" % len(body)
    step = max(1, len(body) // 10)
    parts = [head] + [body[i:i + step] for i in range(0, len(body), step)]
    finish = _slow_request(_port(svc.base), parts, 0.2)
    time.sleep(0.2)
    svc.proc.signal(signal.SIGTERM)
    answer = finish()  # about 2 s of trickled body after the signal
    assert _status(answer) == 503, answer
    assert b"Retry-After: 5" in answer, answer
    assert answer.endswith(b'{"error":"unavailable"}'), answer
    rc, _ = _wait_exit(svc.proc, timeout=15)
    assert rc == 0, svc.proc.log()
