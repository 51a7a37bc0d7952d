# SPDX-License-Identifier: MIT
"""Shared pieces of the end-to-end tests: free ports, a throwaway Redis,
the real scbridge binary, the simulators, HTTP calls and webhook signing.

Every process a test starts is registered here and stopped after the test
by cleanup_all(), whatever happened.
"""
import base64
import hashlib
import hmac
import http.client as http_client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("SCB_BUILD_DIR",
                                       os.path.join(ROOT, "build", "asan")))
SCBRIDGE = os.path.join(BUILD, "scbridge")
SIM_SC = os.path.join(BUILD, "sim-sc")
SIM_DDI = os.path.join(BUILD, "sim-ddi")

# Fixed test secrets: the key bytes are "scbridge-test-key-sc" and so on.
SC_KEY = b"scbridge-test-key-sc"
DDI_KEY = b"scbridge-test-key-ddi"
SC_SECRET = "whsec_" + base64.b64encode(SC_KEY).decode()
DDI_SECRET = "whsec_" + base64.b64encode(DDI_KEY).decode()
ADMIN_TOKEN = "test-admin-token-0123456789abcdef0123"

_procs = []
_tmpdirs = []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tmpdir():
    d = tempfile.mkdtemp(prefix="scb-e2e-")
    _tmpdirs.append(d)
    return d


def wait_for(pred, timeout=10.0, step=0.05, what="condition"):
    """Polls pred() until it returns a true value; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(step)


class Proc:
    """A child process whose stdout and stderr go to a log file."""

    def __init__(self, name, argv, env=None):
        self.name = name
        self.dir = tmpdir()
        self.log_path = os.path.join(self.dir, name + ".log")
        self.argv = argv
        self.env = env
        self._log = open(self.log_path, "ab")
        self.p = subprocess.Popen(argv, stdout=self._log,
                                  stderr=subprocess.STDOUT, env=env,
                                  stdin=subprocess.DEVNULL)
        _procs.append(self)

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            self.p.send_signal(sig)

    def wait(self, timeout=15):
        return self.p.wait(timeout=timeout)

    def stop(self, timeout=15):
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode

    def kill(self):
        if self.alive():
            self.p.kill()
            self.p.wait()

    def log(self):
        self._log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_lines_json(self):
        out = []
        for line in self.log().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out


class Redis:
    """A throwaway redis-server on a free loopback port."""

    def __init__(self, port=None, appendonly=False):
        self.port = port or free_port()
        self.dir = tmpdir()
        self.appendonly = appendonly
        self.proc = None
        self.start()

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def start(self):
        argv = ["redis-server", "--port", str(self.port), "--bind",
                "127.0.0.1", "--dir", self.dir, "--save", "",
                "--appendonly", "yes" if self.appendonly else "no",
                "--appendfsync", "everysec"]
        self.proc = Proc("redis-%d" % self.port, argv)
        wait_for(lambda: self._ping(), what="redis to start")

    def _ping(self):
        try:
            return self.cmd("PING") == "PONG"
        except (OSError, RuntimeError):  # not up yet, or LOADING its AOF
            return False

    def stop(self):
        self.proc.stop()

    def restart(self):
        self.stop()
        self.start()

    def cmd(self, *args):
        """Sends one command; answers the decoded reply (errors raise)."""
        with socket.create_connection(("127.0.0.1", self.port), 5) as s:
            s.sendall(_resp_encode(args))
            f = s.makefile("rb")
            return _resp_read(f)


def _resp_encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def _resp_read(f):
    line = f.readline()
    if not line:
        raise OSError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode("utf-8", "replace")
    if kind == b"*":
        n = int(rest)
        if n < 0:
            return None
        return [_resp_read(f) for _ in range(n)]
    raise RuntimeError("bad RESP reply %r" % line)


def http(method, url, body=None, headers=None, timeout=10):
    """One HTTP request; answers (status, headers dict lower-case, bytes)."""
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
        return r.status, hdrs, data
    finally:
        conn.close()


def http_json(method, url, body=None, headers=None, timeout=10):
    status, hdrs, data = http(method, url, body, headers, timeout)
    try:
        doc = json.loads(data) if data else None
    except ValueError:
        doc = None
    return status, hdrs, doc


def sign(key, msg_id, ts, body):
    """The Standard Webhooks signature header value for one message."""
    mac = hmac.new(key, b"%s.%d.%s" % (msg_id.encode(), ts, body),
                   hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(key, body, msg_id=None, ts=None):
    ts = int(time.time()) if ts is None else ts
    msg_id = msg_id or "msg_%d_%d" % (ts, time.monotonic_ns())
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": sign(key, msg_id, ts, body),
            "Content-Type": "application/json"}


def base_env(redis_url, sc_url="http://127.0.0.1:9/rest",
             ddi_url="http://127.0.0.1:9", port=None, extra=None):
    """A complete, valid scbridge environment for tests."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        "SCBRIDGE_LISTEN": "127.0.0.1:%d" % (port or free_port()),
        "SCBRIDGE_ADMIN_TOKEN": ADMIN_TOKEN,
        "SCBRIDGE_REDIS_URL": redis_url,
        "SCBRIDGE_REDIS_PREFIX": "scb:",
        "SCBRIDGE_SC_BASE_URL": sc_url,
        "SCBRIDGE_SC_USERNAME": "scbridge",
        "SCBRIDGE_SC_PASSWORD": "sc-password",
        "SCBRIDGE_SC_COMPANY_IDS": "163",
        "SCBRIDGE_DDI_BASE_URL": ddi_url,
        "SCBRIDGE_DDI_API_KEY": "ddi-key",
        "SCBRIDGE_DDI_COMPANY": "01",
        "SCBRIDGE_WEBHOOK_SECRET_SC": SC_SECRET,
        "SCBRIDGE_WEBHOOK_SECRET_DDI": DDI_SECRET,
        "SCBRIDGE_LOG_LEVEL": "info",
        "SCBRIDGE_WORKERS": "2",
        "SCBRIDGE_DRAIN_TIMEOUT": "5s",
    }
    if extra:
        env.update(extra)
    return env


class Service:
    """The real scbridge binary, started with an environment."""

    def __init__(self, env, name="scbridge", wait_ready=True):
        self.env = env
        self.base = "http://" + env["SCBRIDGE_LISTEN"]
        admin = env.get("SCBRIDGE_ADMIN_LISTEN")
        self.admin = "http://" + admin if admin else self.base
        self.proc = Proc(name, [SCBRIDGE], env)
        wait_for(self._live, what="scbridge /livez")
        if wait_ready:
            wait_for(self.ready, timeout=15, what="scbridge /readyz")

    def _live(self):
        if not self.proc.alive():
            raise AssertionError("scbridge exited: %s" % self.proc.log())
        try:
            return http("GET", self.admin + "/livez", timeout=2)[0] == 200
        except OSError:
            return False

    def ready(self):
        try:
            return http("GET", self.admin + "/readyz", timeout=2)[0] == 200
        except OSError:
            return False

    def get(self, path, **kw):
        return http_json("GET", self.admin + path, **kw)

    def admin_api(self, method, path, body=None):
        h = {"Authorization": "Bearer " + ADMIN_TOKEN}
        return http_json(method, self.admin + path, body, h)

    def metrics(self):
        status, _, data = http("GET", self.admin + "/metrics")
        assert status == 200, status
        return data.decode()

    def metric(self, name, **labels):
        """Sum of the samples of 'name' whose labels include 'labels'."""
        total = 0.0
        for line in self.metrics().splitlines():
            if not line.startswith(name) or line.startswith("#"):
                continue
            head, _, value = line.rpartition(" ")
            if head.split("{")[0] != name:
                continue
            if all('%s="%s"' % (k, v) in head for k, v in labels.items()):
                total += float(value)
        return total


def cleanup_all():
    while _procs:
        p = _procs.pop()
        try:
            p.stop(timeout=10)
        except Exception:  # cleanup must go on whatever a process did
            p.kill()
    while _tmpdirs:
        shutil.rmtree(_tmpdirs.pop(), ignore_errors=True)


def dump_failure_logs(lines=40):
    for p in _procs:
        text = p.log().splitlines()[-lines:]
        print("---- last %d lines of %s ----" % (len(text), p.name))
        for t in text:
            print(t)
