# SPDX-License-Identifier: MIT
"""The seed document's own examples, unchanged, against the real service: the PHP
httpPostRaw() push, the PHP file_get_contents() /access call, and the browser
WebSocket client (run in Node.js with a browser-compatible WebSocket: its own where
it has one, else the `ws` package's, e.g. on Debian 12's Node 18)."""
import asyncio
import json
import os
import select
import shutil
import subprocess
import time

import pytest

from conftest import recv_user, run

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "examples")
PHP = shutil.which("php")
NODE = shutil.which("node")


_node_argv = None


def node_argv():
    """How to give the seed's browser code a WebSocket in this Node.js: built in
    (Node 22+), behind --experimental-websocket (Node 20.10+), or the `ws` package
    preloaded (Node 18, Debian's node-ws). Found out once, by asking node."""
    global _node_argv
    if _node_argv is None:
        need(NODE, "node")
        probe = "process.exit(typeof WebSocket === 'function' ? 0 : 1)"
        env = dict(os.environ, NODE_PATH="/usr/share/nodejs:/usr/lib/nodejs")
        ways = [[], ["--experimental-websocket", "--no-warnings"],
                ["-r", os.path.join(EXAMPLES, "websocket_global.cjs")]]
        if os.environ.get("PUSH_NODE_WS") == "package":
            ways = ways[2:]  # the Node 18 way, tried on a newer Node
        for flags in ways:
            r = subprocess.run([NODE, *flags, "-e", probe], env=env, capture_output=True,
                               timeout=30)
            if r.returncode == 0:
                _node_argv = (flags, env)
                break
        else:
            raise AssertionError("node has no WebSocket and the ws package (node-ws) "
                                 "is not installed")
    return _node_argv


def need(tool, name):
    if not tool:
        pytest.skip(f"{name} is not installed")


def php(script, *args, timeout=30):
    need(PHP, "php")
    p = subprocess.run([PHP, os.path.join(EXAMPLES, script), *map(str, args)],
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def php_has_curl():
    need(PHP, "php")
    p = subprocess.run([PHP, "-r", "exit(function_exists('curl_init') ? 0 : 1);"],
                       capture_output=True, timeout=30)
    if p.returncode != 0:
        pytest.skip("php-curl is not installed")


class NodeClient:
    """seed_client.mjs in a child process; its stdout is read line by line with a bound."""

    def __init__(self, svc, uid, key, max_messages=1):
        flags, env = node_argv()
        self.proc = subprocess.Popen(
            [NODE, *flags, os.path.join(EXAMPLES, "seed_client.mjs"),
             f"{getattr(svc, 'host', '127.0.0.1')}:{svc.http_port}", uid, key,
             str(max_messages)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.buf = b""
        self.lines = []

    def next_line(self, timeout=10.0):
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"node printed nothing more; so far {self.lines}")
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    rc = self.proc.wait()
                    raise AssertionError(f"node exited ({rc}); lines {self.lines}; stderr: "
                                         f"{self.proc.stderr.read().decode()[-2000:]}")
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        self.lines.append(line.decode())
        return self.lines[-1]

    def next_report(self, timeout=10.0):
        end = time.monotonic() + timeout
        while True:
            line = self.next_line(max(0.01, end - time.monotonic()))
            if line.startswith("{"):
                obj = json.loads(line)
                if "report" in obj:
                    return obj["report"]
                raise AssertionError(f"node client: {obj}; lines {self.lines}")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


def push_when_online(svc, uid, topic, contents, timeout=5.0):
    """onopen may run a moment before the daemon attached the uid: retry 404s, bounded."""
    end = time.monotonic() + timeout
    while True:
        st, _, data = svc.push(uid, topic, contents)
        if st != 404 or time.monotonic() > end:
            return st, data
        time.sleep(0.02)


def test_seed_php_push(service):
    php_has_curl()

    async def go():
        ws = await service.connect("php-user")
        try:
            await asyncio.to_thread(service.wait_online, "php-user")
            rc, out, err = await asyncio.to_thread(
                php, "seed_push.php", "127.0.0.1", service.http_port, "php-user",
                service.password)
            assert rc == 0, (out, err)
            assert json.loads(out) == {"topic": "success", "number": 1, "contents": "推送成功"}
            msg = await recv_user(ws)
            assert msg["topic"] == "info_update"
            assert msg["contents"] == {"name": "张三", "age": 17}
        finally:
            await ws.close()
    run(go())


def test_seed_php_push_offline_reply(service):
    php_has_curl()
    rc, out, err = php("seed_push.php", "127.0.0.1", service.http_port, "php-nobody",
                       service.password)
    assert rc == 0, (out, err)
    assert json.loads(out) == {"topic": "error", "number": 0, "contents": "此用户不在线"}


def test_seed_php_push_wrong_password_reply(service):
    php_has_curl()
    rc, out, err = php("seed_push.php", "127.0.0.1", service.http_port, "php-user", "nope")
    assert rc == 0, (out, err)
    data = json.loads(out)
    assert data["topic"] == "error" and data["number"] == 0 and data["contents"]


def test_seed_php_access(service):
    rc, out, err = php("seed_access.php", f"127.0.0.1:{service.http_port}", "php-access",
                       service.password)
    assert rc == 0, (out, err)
    key = out.strip()
    assert key

    async def go():
        ws = await service.connect("php-access", key)
        try:
            await asyncio.to_thread(service.wait_online, "php-access")
            st, _, _ = await asyncio.to_thread(service.push, "php-access", "k", "works")
            assert st == 200
            assert (await recv_user(ws))["contents"] == "works"
        finally:
            await ws.close()
    run(go())


def test_seed_php_access_wrong_password(service):
    rc, out, err = php("seed_access.php", f"127.0.0.1:{service.http_port}", "php-access",
                       "nope")
    assert rc == 1, (out, err)  # file_get_contents fails on the 401: no key


def test_seed_js_client_receives_push(service):
    key = service.access("js-user")
    client = NodeClient(service, "js-user", key, max_messages=2)
    try:
        assert client.next_report() == {"topic": "系统", "contents": "连接", "kind": None}
        st, data = push_when_online(service, "js-user", "info_update",
                                    {"name": "张三", "age": 17})
        assert st == 200 and data["number"] == 1, (st, data)
        rep = client.next_report()
        assert rep == {"topic": "info_update", "contents": {"name": "张三", "age": 17},
                       "kind": "success"}
        # e.data was printed verbatim before report(): the whole frame is the seed's format.
        frame = next(line for line in client.lines if line.startswith("form-server:"))
        msg = json.loads(frame[len("form-server:"):])
        assert set(msg) == {"topic", "number", "contents"} and msg["number"] == 1
        st, _, _ = service.push("js-user", "second", [1, "二", None, 2.5])
        assert st == 200
        assert client.next_report() == {"topic": "second", "contents": [1, "二", None, 2.5],
                                        "kind": "success"}
        assert client.proc.wait(10) == 0
    finally:
        client.close()


def test_seed_js_client_refused_with_bad_key(service):
    client = NodeClient(service, "js-bad", "v1.0.bogus", max_messages=5)
    try:
        assert client.next_report()["topic"] == "系统"
        rep = client.next_report()  # the error frame arrives through onmessage
        assert rep["topic"] == "error" and rep["contents"], rep
        closed = json.loads(client.next_line())
        assert closed["close"]["code"] == 1008, closed
    finally:
        client.close()


def test_seed_flow_end_to_end(service):
    """The seed's whole flow with its own code: PHP gets the key (/access), the JS page
    subscribes with it (/ws), PHP pushes (/push), the page reports the message."""
    php_has_curl()
    rc, out, err = php("seed_access.php", f"127.0.0.1:{service.http_port}", "seed-flow",
                       service.password)
    assert rc == 0, (out, err)
    client = NodeClient(service, "seed-flow", out.strip(), max_messages=1)
    try:
        assert client.next_report()["topic"] == "系统"
        deadline = time.monotonic() + 5
        while True:
            rc, out, err = php("seed_push.php", "127.0.0.1", service.http_port, "seed-flow",
                               service.password)
            assert rc == 0, (out, err)
            reply = json.loads(out)
            if reply["topic"] == "success" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert reply == {"topic": "success", "number": 1, "contents": "推送成功"}
        assert client.next_report() == {"topic": "info_update",
                                        "contents": {"name": "张三", "age": 17},
                                        "kind": "success"}
        assert client.proc.wait(10) == 0
    finally:
        client.close()
