"""System-test fixtures: a real ws-daemon and a real lighttpd (with the real
push-api FastCGI program) on free loopback ports, stopped after each use."""
import asyncio
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse

import pytest
import websockets

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("PUSH_BIN_DIR", os.path.join(TOP, "build", "bin"))
PASSWORD = "s3cret-pw"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, timeout=10.0, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return False


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Service:
    """One daemon + one lighttpd. HTTP and WebSocket helpers speak to lighttpd."""

    def __init__(self, workdir, **overrides):
        self.dir = workdir
        self.http_port = free_port()
        self.ws_port = free_port()
        self.password = overrides.pop("password", PASSWORD)
        self.conf = os.path.join(workdir, "conf.yaml")
        self.sock = os.path.join(workdir, "run", "ws-daemon.sock")
        cfg = {
            "addr": f"127.0.0.1:{self.http_port}",
            "ws_addr": f"127.0.0.1:{self.ws_port}",
            "password": self.password,
            "log_level": "info",
            "fcgi_procs": 2,
        }
        cfg.update(overrides)
        with open(self.conf, "w") as f:
            for k, v in cfg.items():
                f.write(f"{k}: {json.dumps(v) if isinstance(v, str) else v}\n")
        self.daemon = None
        self.lighttpd = None
        self.daemon_log = os.path.join(workdir, "daemon.log")
        self.lighttpd_log = os.path.join(workdir, "lighttpd.log")

    # -- lifecycle ---------------------------------------------------------
    def start_daemon(self):
        log = open(self.daemon_log, "ab")
        self.daemon = subprocess.Popen([os.path.join(BIN, "ws-daemon"), "-c", self.conf],
                                       stdout=log, stderr=log, cwd=self.dir)
        log.close()
        if not wait_until(lambda: os.path.exists(self.sock) and port_open(self.ws_port)):
            raise RuntimeError("ws-daemon did not start:\n" + self.read_log(self.daemon_log))

    def stop_daemon(self, sig=signal.SIGTERM, timeout=10):
        if self.daemon is None:
            return None
        if self.daemon.poll() is None:
            self.daemon.send_signal(sig)
            try:
                self.daemon.wait(timeout)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        rc = self.daemon.returncode
        self.daemon = None
        return rc

    def start_lighttpd(self):
        conf = os.path.join(self.dir, "lighttpd.conf")
        with open(conf, "w") as f:
            subprocess.run([os.path.join(TOP, "scripts", "lighttpd-conf.sh"), self.conf, BIN],
                           stdout=f, check=True)
        log = open(self.lighttpd_log, "ab")
        self.lighttpd = subprocess.Popen(["lighttpd", "-D", "-f", conf],
                                         stdout=log, stderr=log, cwd=self.dir)
        log.close()
        if not wait_until(lambda: port_open(self.http_port)):
            raise RuntimeError("lighttpd did not start:\n" + self.read_log(self.lighttpd_log))

    def stop_lighttpd(self):
        if self.lighttpd is None:
            return
        if self.lighttpd.poll() is None:
            self.lighttpd.send_signal(signal.SIGINT)
            try:
                self.lighttpd.wait(10)
            except subprocess.TimeoutExpired:
                self.lighttpd.kill()
                self.lighttpd.wait()
        self.lighttpd = None

    def start(self):
        self.start_daemon()
        self.start_lighttpd()
        return self

    def stop(self):
        self.stop_lighttpd()
        return self.stop_daemon()

    @staticmethod
    def read_log(path):
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # -- HTTP --------------------------------------------------------------
    def request(self, method, path, query=None, body=None, headers=None, timeout=10):
        """Returns (status, headers dict (lower-case), parsed JSON or raw bytes)."""
        url = path
        if query is not None:
            url += "?" + (query if isinstance(query, str) else urllib.parse.urlencode(query))
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            elif isinstance(body, str):
                body = body.encode()
            conn.request(method, url, body=body, headers=headers or {})
            resp = conn.getresponse()
            raw = resp.read()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()
        try:
            data = json.loads(raw)
        except ValueError:
            data = raw
        return resp.status, hdrs, data

    def access(self, uid, password=None):
        st, _, data = self.request("GET", "/access",
                                   {"uid": uid, "password": password or self.password})
        assert st == 200, (st, data)
        assert data["topic"] == "_access"
        return data["contents"]

    def push(self, uid, topic="t", contents=None, body=None, password=None,
             content_type="application/json", headers=None):
        h = {"Content-Type": content_type} if content_type else {}
        h.update(headers or {})
        if body is None:
            body = {"topic": topic, "contents": contents}
        q = {"uid": uid}
        if password is not False:
            q["password"] = password or self.password
        return self.request("POST", "/push", q, body=body, headers=h)

    # -- WebSocket ---------------------------------------------------------
    def ws_url(self, uid=None, key=None, direct=False, path="/ws"):
        port = self.ws_port if direct else self.http_port
        q = {}
        if uid is not None:
            q["uid"] = uid
        if key is not None:
            q["access_key"] = key
        return f"ws://127.0.0.1:{port}{path}" + ("?" + urllib.parse.urlencode(q) if q else "")

    async def connect(self, uid, key=None, **kw):
        if key is None:
            key = self.access(uid)
        return await websockets.connect(self.ws_url(uid, key, **kw), max_size=None,
                                        ping_interval=None)

    def wait_online(self, uid, n=1, timeout=5.0):
        """Until a push to uid reaches n connections (sends probe messages)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            st, _, data = self.push(uid, topic="_probe", contents=None)
            if st == 200 and data["number"] >= n:
                return data["number"]
            time.sleep(0.05)
        raise AssertionError(f"{uid} not online with {n} connections")


@pytest.fixture
def make_service():
    started = []

    def make(**overrides):
        svc = Service(tempfile.mkdtemp(prefix="push-sys."), **overrides)
        started.append(svc)
        return svc.start()

    yield make
    for svc in started:
        svc.stop()


@pytest.fixture(scope="module")
def service():
    svc = Service(tempfile.mkdtemp(prefix="push-sys."))
    svc.start()
    yield svc
    svc.stop()


def run(coro):
    return asyncio.run(coro)
