# SPDX-License-Identifier: MIT
"""System-test fixtures: a real ws-daemon and a real lighttpd (with the real
push-api FastCGI program) on free loopback ports, stopped after each use."""
import asyncio
import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
import urllib.parse

import pytest
import websockets

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("PUSH_BIN_DIR", os.path.join(TOP, "build", "bin"))
PASSWORD = "s3cret-pw"


# In CI a skipped test is a failed run: a missing tool or privilege there means the
# suite did not test what it claims. (Locally a skip stays a skip.)
_skipped = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("CI") == "true" and _skipped and exitstatus == 0:
        print(f"\nCI: {len(_skipped)} test(s) skipped, which fails the run: "
              + ", ".join(_skipped[:10]))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def free_port():
    return free_ports(1)[0]


def free_ports(n):
    """n distinct free ports: all held at once while picked, so two roles of one
    service never get the same port (one at a time, the kernel may hand it out twice)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


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
    """One ws-daemon and one web server (lighttpd, or Apache or nginx with a push-api
    pool).
    HTTP and WebSocket helpers speak to the web server."""

    host = "127.0.0.1"  # where the web server listens (a ClusterHost has its own)

    def __init__(self, workdir, web="lighttpd", **overrides):
        self.dir = workdir
        os.chmod(workdir, 0o755)  # Apache's workers run as www-data when we are root
        self.web = web
        self.http_port, self.ws_port, self.fcgi_port = free_ports(3)
        self.password = overrides.pop("password", PASSWORD)
        self.conf = os.path.join(workdir, "conf.yaml")
        cfg = {
            "addr": f"127.0.0.1:{self.http_port}",
            "ws_addr": f"127.0.0.1:{self.ws_port}",
            "fcgi_addr": f"127.0.0.1:{self.fcgi_port}",
            "password": self.password,
            "log_level": "info",
            "fcgi_procs": 2,
            # No "workers": the suite runs the shipped default (one per CPU) unless
            # a test sets it.
        }
        cfg.update(overrides)
        self.cfg = cfg
        self.write_conf()
        self.learn_sockets()
        self.daemon = None
        self.webserver = None   # lighttpd, apache2 or nginx
        self.fcgi_pool = None   # push-api -s (Apache, nginx; lighttpd spawns its own)
        self.daemon_log = os.path.join(workdir, "daemon.log")
        self.web_log = os.path.join(workdir, f"{web}.log")

    def conf_value(self, key):
        """The effective value of a config key, as the daemon computes it (`-g`)."""
        r = subprocess.run([os.path.join(BIN, "ws-daemon"), "-c", self.conf, "-g", key],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"ws-daemon -g {key}: {r.stderr}")
        return r.stdout.strip()

    def learn_sockets(self):
        """The daemon's datagram sockets: ipc_socket with one worker, ipc_socket.<i>
        for each of N > 1 (N as the daemon resolves it: workers 0 is one per CPU)."""
        self.workers = int(self.conf_value("workers"))
        self.socks = self.conf_value("ipc_socket").splitlines()
        assert self.workers >= 1 and len(self.socks) == self.workers, self.socks
        self.sock = self.socks[0]

    def write_conf(self, **changes):
        """(Re)writes conf.yaml from self.cfg plus changes; a value of None drops a key."""
        self.cfg.update(changes)
        self.cfg = {k: v for k, v in self.cfg.items() if v is not None}
        tmp = self.conf + ".tmp"
        with open(tmp, "w") as f:
            for k, v in self.cfg.items():
                f.write(f"{k}: {json.dumps(v) if isinstance(v, str) else v}\n")
        os.replace(tmp, self.conf)

    # -- lifecycle ---------------------------------------------------------
    def _spawn(self, argv, log_path, own_group=False):
        log = open(log_path, "ab")
        try:
            return subprocess.Popen(argv, stdout=log, stderr=log, cwd=self.dir,
                                    start_new_session=own_group)
        finally:
            log.close()

    def freeze_daemon(self, sig):
        """SIGSTOP/SIGCONT/SIGKILL to the daemon and all its workers (its own group)."""
        os.killpg(self.daemon.pid, sig)

    @staticmethod
    def _stop_proc(proc, sig=signal.SIGTERM, timeout=10):
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def start_daemon(self, timeout=30):
        self.learn_sockets()  # the config may have changed since the last start
        # A crashed daemon's socket files stay behind: only new ones mean "ready".
        def ident(p):
            try:
                st = os.stat(p)
                return st.st_ino, st.st_mtime_ns
            except FileNotFoundError:
                return None
        stale = {p: ident(p) for p in self.socks}

        def ready():
            return all(ident(p) not in (None, stale[p]) for p in self.socks) \
                and port_open(self.ws_port)

        self.daemon = self._spawn([os.path.join(BIN, "ws-daemon"), "-c", self.conf],
                                  self.daemon_log, own_group=True)
        if not wait_until(lambda: ready() or self.daemon.poll() is not None, timeout) \
                or self.daemon.poll() is not None:
            raise RuntimeError("ws-daemon did not start:\n" + self.read_log(self.daemon_log))

    def stop_daemon(self, sig=signal.SIGTERM, timeout=10):
        if sig == signal.SIGKILL and self.daemon is not None and self.daemon.poll() is None:
            self.freeze_daemon(signal.SIGKILL)  # a crash takes the workers too
        rc = self._stop_proc(self.daemon, sig, timeout)
        self.daemon = None
        return rc

    def _web_conf(self, script):
        conf = os.path.join(self.dir, f"{self.web}.conf")
        with open(conf, "w") as f:
            subprocess.run([os.path.join(TOP, "scripts", script), self.conf, BIN],
                           stdout=f, check=True)
        return conf

    def start_pool(self):
        """push-api's own pool on fcgi_addr (Apache and nginx; lighttpd spawns its own)."""
        self.fcgi_pool = self._spawn([os.path.join(BIN, "push-api"), "-c", self.conf,
                                      "-s", "-"], os.path.join(self.dir, "push-api.log"))
        if not wait_until(lambda: port_open(self.fcgi_port), 30):
            raise RuntimeError("push-api did not start")

    def start_web(self):
        if self.web == "apache":
            self.start_pool()
            argv = ["apache2", "-DFOREGROUND", "-f", self._web_conf("apache-conf.sh")]
        elif self.web == "nginx":
            self.start_pool()
            # One worker, no daemon: nginx is up as soon as it listens (its
            # prefix, RUN_DIR/nginx, holds the temp directories).
            conf = self._web_conf("nginx-conf.sh")
            prefix = os.path.join(self.conf_value("run_dir"), "nginx")
            argv = ["nginx", "-e", "stderr", "-p", prefix, "-c", conf]
        else:
            argv = ["lighttpd", "-D", "-f", self._web_conf("lighttpd-conf.sh")]
        self.webserver = self._spawn(argv, self.web_log)
        if not wait_until(lambda: port_open(self.http_port), 30):
            raise RuntimeError(f"{self.web} did not start:\n" + self.read_log(self.web_log))

    def stop_web(self):
        # lighttpd stops its FastCGI children on SIGINT; Apache and nginx on SIGTERM.
        self._stop_proc(self.webserver,
                        signal.SIGINT if self.web == "lighttpd" else signal.SIGTERM)
        self.webserver = None
        self._stop_proc(self.fcgi_pool)
        self.fcgi_pool = None

    def web_alive(self):
        return self.webserver is not None and self.webserver.poll() is None and \
            (self.fcgi_pool is None or self.fcgi_pool.poll() is None)

    def start(self):
        self.start_daemon()
        self.start_web()
        return self

    def stop(self):
        self.stop_web()
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
        if self.tls:
            conn = http.client.HTTPSConnection(self.host, self.http_port, timeout=timeout,
                                               context=self.ssl_context())
        else:
            conn = http.client.HTTPConnection(self.host, self.http_port, timeout=timeout)
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

    def metrics(self):
        """GET /metrics parsed into {sample name with labels: value}."""
        st, hdrs, body = self.request("GET", "/metrics", {"password": self.password})
        assert st == 200, (st, body)
        assert hdrs["content-type"].startswith("text/plain; version=0.0.4")
        text = body.decode() if isinstance(body, bytes) else str(body)
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values

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
        scheme = "wss" if self.tls and not direct else "ws"
        return f"{scheme}://127.0.0.1:{port}{path}" + ("?" + urllib.parse.urlencode(q) if q else "")

    @property
    def tls(self):
        return bool(self.cfg.get("tls_cert"))

    def ssl_context(self):
        """Trusts exactly the service's own (self-signed) certificate."""
        ctx = ssl.create_default_context(cafile=self.cfg["tls_cert"])
        ctx.check_hostname = False
        return ctx

    async def connect(self, uid, key=None, **kw):
        if key is None:
            key = self.access(uid)
        if self.tls and not kw.get("direct"):
            kw_ssl = {"ssl": self.ssl_context()}
        else:
            kw_ssl = {}
        return await websockets.connect(self.ws_url(uid, key, **kw), max_size=None, **kw_ssl,
                                        ping_interval=None)

    def wait_online(self, uid, n=1, timeout=10.0):
        """Until a push to uid reaches n connections (sends probe messages)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            st, _, data = self.push(uid, topic="_probe", contents=None)
            if st == 200 and data["number"] >= n:
                return data["number"]
            time.sleep(0.05)
        raise AssertionError(f"{uid} not online with {n} connections")


# Every system test runs behind each web server; PUSH_WEB=lighttpd (or apache, or
# nginx, or a comma-separated list) narrows that down.
WEB_SERVERS = [w for w in os.environ.get("PUSH_WEB", "lighttpd,apache,nginx").split(",") if w]


@pytest.fixture(params=WEB_SERVERS)
def web(request):
    return request.param


@pytest.fixture
def make_service(web):
    started = []

    def make(**overrides):
        svc = Service(tempfile.mkdtemp(prefix="push-sys."), web, **overrides)
        started.append(svc)
        return svc.start()

    yield make
    for svc in started:
        svc.stop()
        if not os.environ.get("PUSH_KEEP_DIRS"):
            shutil.rmtree(svc.dir, ignore_errors=True)


@pytest.fixture(scope="module", params=WEB_SERVERS)
def service(request):
    if ATTACHED is not None:  # a service someone else runs: see AttachedService
        yield AttachedService(ATTACHED)
        return
    svc = Service(tempfile.mkdtemp(prefix="push-sys."), request.param)
    svc.start()
    yield svc
    svc.stop()
    shutil.rmtree(svc.dir, ignore_errors=True)


def run(coro):
    return asyncio.run(coro)


# -- an already-running service -----------------------------------------------
# PUSH_ATTACH='{"web": "apache", "http_port": 8080, "ws_port": 8081, "password": "...",
#               "pids": [<ws-daemon>, <web server>, ...]}' points the module-scoped
# `service` fixture at a web server and daemon started elsewhere (test_deb.py: the
# installed package behind Debian's own lighttpd or Apache). Tests that start
# services of their own (make_service) are deselected; nothing is started or stopped.
ATTACHED = json.loads(os.environ["PUSH_ATTACH"]) if os.environ.get("PUSH_ATTACH") else None


class _Running:
    """Popen-like view of a process this session did not start."""

    def __init__(self, pid):
        self.pid = pid

    def poll(self):
        try:
            os.kill(self.pid, 0)
            return None
        except ProcessLookupError:
            return -1


class AttachedService(Service):
    """Service's HTTP and WebSocket helpers against a service started elsewhere."""

    def __init__(self, spec):  # pylint: disable=super-init-not-called
        self.web = spec["web"]
        self.http_port = int(spec["http_port"])
        self.ws_port = int(spec["ws_port"])
        self.password = spec["password"]
        self.cfg = {}
        self.dir = None
        self.procs = [_Running(int(p)) for p in spec.get("pids", [])]
        self.daemon = self.procs[0] if self.procs else _Running(os.getpid())
        self.daemon_log = self.web_log = os.devnull

    def web_alive(self):
        return all(p.poll() is None for p in self.procs)

    def start(self):
        return self

    def stop(self):
        return None


def pytest_collection_modifyitems(config, items):
    if ATTACHED is None:
        return
    keep = [i for i in items if "make_service" not in getattr(i, "fixturenames", ())]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


# -- helpers shared by the system tests ---------------------------------------

def is_error_body(data):
    """The service's JSON error shape: {"topic":"error","number":0,"contents":"<reason>"}."""
    return (isinstance(data, dict) and set(data) == {"topic", "number", "contents"}
            and data["topic"] == "error" and data["number"] == 0
            and isinstance(data["contents"], str) and data["contents"] != "")


async def recv_json(ws, timeout=10.0):
    """Next text frame as parsed JSON (asserting it is text, not binary)."""
    raw = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(raw, str), f"expected a text frame, got {type(raw).__name__}"
    return json.loads(raw)


async def recv_user(ws, timeout=10.0):
    """Next message that is not one of wait_online()'s "_probe" pushes."""
    end = time.monotonic() + timeout
    while True:
        msg = await recv_json(ws, max(0.01, end - time.monotonic()))
        if msg.get("topic") != "_probe":
            return msg


def push_until_delivered(svc, uid, topic="t", contents=None, timeout=10.0, **kw):
    """Pushes the same message until it reaches a connection (404 pushes do not
    consume a sequence number), without wait_online()'s probes. Returns the reply."""
    end = time.monotonic() + timeout
    while True:
        st, hdrs, data = svc.push(uid, topic, contents, **kw)
        if st == 200:
            return st, hdrs, data
        assert st == 404, (st, data)
        if time.monotonic() > end:
            raise AssertionError(f"{uid} never came online")
        time.sleep(0.02)


async def roundtrip(svc, uid="still-serving", contents="ok?"):
    """The normal flow end to end: /access, /ws, /push, delivery."""
    ws = await svc.connect(uid)
    try:
        st, _, data = await asyncio.to_thread(push_until_delivered, svc, uid, "alive", contents)
        assert data == {"topic": "success", "number": 1, "contents": "推送成功"}, data
        msg = await recv_json(ws)
        assert msg["topic"] == "alive" and msg["contents"] == contents, msg
    finally:
        await ws.close()


def assert_serving(svc, uid="still-serving"):
    """Both processes alive and the full flow still works."""
    assert svc.daemon is not None and svc.daemon.poll() is None, \
        "ws-daemon died:\n" + svc.read_log(svc.daemon_log)[-3000:]
    assert svc.web_alive(), \
        f"{svc.web} died:\n" + svc.read_log(svc.web_log)[-3000:]
    asyncio.run(roundtrip(svc, uid))


def poll_status(svc, uid, want, timeout=10.0, **kw):
    """Pushes until the status is `want` (bounded); returns (status, data) of the last try."""
    end = time.monotonic() + timeout
    while True:
        st, _, data = svc.push(uid, "_probe", None, **kw)
        if st == want or time.monotonic() > end:
            return st, data
        time.sleep(0.02)


def vm_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def same_json(a, b):
    """Equality that also tells 17 from 17.0 and True from 1."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    return a == b


class RawWS:
    """A hand-made WebSocket client on a plain TCP socket, for what a well-behaved
    library will not send (invalid UTF-8, half frames) or do (never read)."""

    def __init__(self, port, target, rcvbuf=None, timeout=5.0, read_response=True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.buf = b""
        try:
            self.sock.connect(("127.0.0.1", port))
            key = base64.b64encode(os.urandom(16)).decode()
            self.sock.sendall((f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                              .encode())
            if read_response:
                while b"\r\n\r\n" not in self.buf:
                    chunk = self.sock.recv(4096)
                    if not chunk:
                        raise AssertionError("connection closed during the handshake")
                    self.buf += chunk
                head, self.buf = self.buf.split(b"\r\n\r\n", 1)
                self.response_head = head.decode("latin-1")
                assert self.response_head.startswith("HTTP/1.1 101"), self.response_head
        except BaseException:
            self.sock.close()
            raise

    def send_frame(self, opcode, payload, fin=True):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + body)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self):
        """(opcode, payload); EOFError when the peer has closed the TCP stream."""
        b0, b1 = self._need(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._need(8))[0]
        mask = self._need(4) if b1 & 0x80 else None
        payload = self._need(n)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return b0 & 0x0F, payload

    def frames_until_close(self, limit=10000):
        """Data frames received, then the close code (None: TCP closed without a Close)."""
        frames = []
        try:
            for _ in range(limit):
                op, payload = self.recv_frame()
                if op == 8:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                    try:
                        self.send_frame(8, payload[:2])
                    except OSError:
                        pass
                    return frames, code
                if op in (1, 2, 0):
                    frames.append((op, payload))
        except (EOFError, ConnectionResetError):
            return frames, None
        raise AssertionError("too many frames without a close")

    def close(self):
        self.sock.close()


def split_response(raw):
    """(status, body bytes) of a raw HTTP/1.1 response, chunked or not."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    if b"transfer-encoding: chunked" not in head.lower():
        return status, body
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        n = int(size_line.split(b";")[0], 16)
        if n == 0:
            break
        out += rest[:n]
        body = rest[n + 2:]
    return status, out


def response_complete(raw):
    """True once raw holds a whole HTTP response with a Content-Length body."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I) if sep else None
    return bool(m) and len(body) >= int(m.group(1))


def raw_exchange(port, request, until=None, timeout=10):
    """Sends raw bytes to 127.0.0.1:port and reads until the peer closes, or until
    `until` (bytes, or a predicate on what was read) holds; a server that answers
    early and closes is not an error."""
    done = until if callable(until) else (lambda raw: until is not None and until in raw)
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    raw = b""
    try:
        try:
            s.sendall(request)
        except OSError:
            pass
        try:
            while not done(raw):
                chunk = s.recv(65536)
                if not chunk:
                    break
                raw += chunk
        except OSError:
            pass
    finally:
        s.close()
    return raw


# == Clusters: several hosts joined by Redis (engine: redis) ==================
# Used by test_cluster.py. A "host" is what one machine runs today (ws-daemon, a
# web server, push-api) on its own loopback address 127.0.0.N; the hosts share a
# password and a list of redis-server shards.

def resp_command(port, *args, timeout=10.0):
    """One Redis command over a plain socket (RESP). The reply: str for a status,
    bytes for a bulk string, int, None, list; an error reply raises RuntimeError."""
    req = f"*{len(args)}\r\n".encode()
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        req += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(req)
        f = s.makefile("rb")

        def value():
            line = f.readline()
            if not line.endswith(b"\r\n"):
                raise EOFError("Redis closed the connection")
            kind, rest = line[:1], line[1:-2]
            if kind == b"+":
                return rest.decode()
            if kind == b"-":
                raise RuntimeError(rest.decode())
            if kind == b":":
                return int(rest)
            if kind == b"$":
                return None if int(rest) < 0 else f.read(int(rest) + 2)[:-2]
            if kind == b"*":
                return None if int(rest) < 0 else [value() for _ in range(int(rest))]
            raise ValueError(f"RESP: {line!r}")
        return value()


def quiet_ports(n):
    """n free ports below the kernel's ephemeral range: a cluster's daemons open
    many connections to Redis while the next host starts, and one of them could
    take a port free_ports() picked (those come from the ephemeral range)."""
    import random  # pylint: disable=import-outside-toplevel
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 0
    if low < 12000:
        return free_ports(n)
    out = []
    while len(out) < n:
        port = random.randrange(10000, low)
        if port in out:
            continue
        try:
            for host in ("127.0.0.1", "127.0.0.2", "127.0.0.3"):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind((host, port))
        except OSError:
            continue
        out.append(port)
    return out


class RedisServer:
    """One redis-server without persistence on 127.0.0.1:port (restartable there);
    DEBUG (SLEEP) allowed from loopback."""

    def __init__(self, workdir, port):
        self.dir, self.port, self.proc = workdir, port, None

    def start(self):
        log = open(os.path.join(self.dir, f"redis-{self.port}.log"), "ab")
        try:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--daemonize", "no",
                 "--dir", self.dir, "--enable-debug-command", "local"], stdout=log, stderr=log, cwd=self.dir)
        finally:
            log.close()

        def up():
            try:
                return resp_command(self.port, "PING", timeout=0.5) == "PONG"
            except (OSError, EOFError, RuntimeError):
                return False
        if not wait_until(lambda: up() or self.proc.poll() is not None, 10) or \
                self.proc.poll() is not None:
            raise RuntimeError(f"redis-server on {self.port} did not start")
        return self

    def stop(self, sig=signal.SIGKILL):
        Service._stop_proc(self.proc, sig)
        self.proc = None


class ClusterHost(Service):
    """A Service whose web server listens on its own address (127.0.0.N); ws_addr
    and fcgi_addr stay on 127.0.0.1, they are the host's internals. Always lighttpd,
    without TLS."""

    def __init__(self, workdir, host, **overrides):
        self.host = host
        super().__init__(workdir, "lighttpd", **overrides)
        self.http_port, self.ws_port, self.fcgi_port = quiet_ports(3)
        self.write_conf(addr=f"{host}:{self.http_port}", ws_addr=f"127.0.0.1:{self.ws_port}",
                        fcgi_addr=f"127.0.0.1:{self.fcgi_port}")

    def start_web(self):
        argv = ["lighttpd", "-D", "-f", self._web_conf("lighttpd-conf.sh")]
        self.webserver = self._spawn(argv, self.web_log)

        def listening():
            try:
                with socket.create_connection((self.host, self.http_port), timeout=0.2):
                    return True
            except OSError:
                return False
        if not wait_until(listening, 30):
            raise RuntimeError("lighttpd did not start:\n" + self.read_log(self.web_log))

    def ws_url(self, uid=None, key=None, direct=False, path="/ws"):
        url = super().ws_url(uid, key, direct, path)
        return url if direct else url.replace("//127.0.0.1:", f"//{self.host}:", 1)


# Lines that mean a crash or a sanitizer report in any log; with strict logs also
# the daemons' own "error:" lines.
_CRASH = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|"
                    r"runtime error:|Segmentation fault|core dumped|Assertion .* failed")
_ERROR_LINE = re.compile(r"\] error: ")


class Cluster:
    """`hosts` ClusterHosts (127.0.0.1, .2, .3, ...) and `shards` redis-servers, each
    in its own temp dir; `engine: redis`, workers 2 unless overridden. Use as a
    context manager: everything is stopped (Redis by pid) even when a start fails,
    and the logs are checked: no crash or sanitizer report anywhere, and with
    strict_logs no daemon "error:" line either (faults make some on purpose)."""

    def __init__(self, hosts=3, shards=2, strict_logs=True, **overrides):
        self.n_hosts, self.n_shards, self.strict = hosts, shards, strict_logs
        self.overrides = {"workers": 2, **overrides}
        self.dir = tempfile.mkdtemp(prefix="push-cluster.")
        self.redis, self.hosts, self.killed = [], [], set()

    def __enter__(self):
        try:
            for port in quiet_ports(self.n_shards):
                self.redis.append(RedisServer(self.dir, port).start())
            servers = ", ".join(f"127.0.0.1:{r.port}" for r in self.redis)
            for i in range(self.n_hosts):
                d = os.path.join(self.dir, f"host{i + 1}")
                os.mkdir(d)
                self.hosts.append(ClusterHost(d, f"127.0.0.{i + 1}", engine="redis",
                                              redis_servers=servers, **self.overrides))
            for h in self.hosts:
                h.start_daemon()
            for h in self.hosts:
                h.start_web()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def kill_host(self, i):
        """kill -9 of host i's whole daemon (supervisor and workers)."""
        self.killed.add(i)
        self.hosts[i].stop_daemon(signal.SIGKILL)

    def restart_shard(self, i):
        """Shard i killed and started again, empty, on the same port."""
        self.redis[i].stop(signal.SIGKILL)
        self.redis[i].start()

    def log_problems(self):
        out = []
        for i, h in enumerate(self.hosts):
            if i not in self.killed and h.daemon is not None and h.daemon.poll() is not None:
                out.append(f"{h.host}: ws-daemon exited with {h.daemon.returncode}")
            for path in (h.daemon_log, h.web_log):
                for line in h.read_log(path).splitlines():
                    if _CRASH.search(line) or (self.strict and _ERROR_LINE.search(line)):
                        out.append(f"{h.host} {os.path.basename(path)}: {line}")
        return out

    def __exit__(self, *exc):
        problems = self.log_problems()
        for i, h in enumerate(self.hosts):
            try:
                rc = h.stop()
            except Exception as e:  # pylint: disable=broad-except
                rc = f"{e!r}"
            if i not in self.killed and rc not in (0, None):
                problems.append(f"{h.host}: ws-daemon stopped with {rc}")
        for r in self.redis:
            r.stop()
        if not os.environ.get("PUSH_KEEP_DIRS"):
            shutil.rmtree(self.dir, ignore_errors=True)
        if exc[0] is None:
            assert not problems, "\n".join(problems[:40])
        return False
