# SPDX-License-Identifier: MIT
"""The JS client in a real browser: headless Chromium (Debian's chromium +
chromium-driver, driven by python3-selenium) loads the demo page (demo/www/, the
client's ES module from clients/js/src/) from the test's own web server with
`demo: true`, against a real ws-daemon, and lives through what pages meet: key
expiry, a killed worker, a network cut, a reload, two tabs, acknowledgements.

The page records everything it saw in `window.demo` (events, messages, the URL and
acknowledgements of every WebSocket, key fetches); the tests read it from there.
Chromium missing is a skip here and so a failure under CI=true (see conftest)."""
import json
import os
import shutil
import signal
import socket
import threading
import time
import urllib.parse

import pytest

from conftest import run, same_json, wait_until
from test_history import connect_at, position
from test_workers import shard, worker_pid

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service as DriverService
    from selenium.webdriver.common.by import By
except ImportError:  # pragma: no cover - depends on the machine
    webdriver = None

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    webdriver is None or not CHROMIUM or not CHROMEDRIVER,
    reason="needs chromium, chromium-driver and python3-selenium (make deps-test)")

# History and offline storage on, so a client that was away gets what it missed;
# two workers, so one can be killed while the other serves.
BASE = {"demo": True, "workers": 2, "history_size": 50, "offline_messages": True,
        "push_timeout_ms": 1500, "fcgi_procs": 4, "ack_waiters_max": 2}
# A fast backoff, so the tests wait seconds, not minutes.
FAST = {"minDelay": 200, "maxDelay": 1000, "connectTimeout": 3000}


@pytest.fixture
def browser():
    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000", "--disable-background-timer-throttling",
                "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-component-update", "--disable-sync"):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=DriverService(executable_path=CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(30)
    drv.set_script_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()


def page_url(svc, **params):
    q = {k: str(v) for k, v in params.items()}
    return f"http://127.0.0.1:{svc.http_port}/demo/?" + urllib.parse.urlencode(q)


def open_page(drv, svc, **params):
    drv.get(page_url(svc, **params))
    wait_js(drv, "window.demo && window.demo.ready === true", 15)


def js(drv, expr):
    return drv.execute_script("return " + expr)


def wait_js(drv, expr, timeout=15.0):
    """Until the page's expression is truthy (bounded); returns its value."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = js(drv, expr)
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"page: `{expr}` still {last!r} after {timeout} s; events: "
                         + json.dumps(events(drv))[-3000:])


def events(drv, kind=None):
    evs = js(drv, "window.demo ? window.demo.events : []") or []
    return [e["detail"] for e in evs if kind is None or e["event"] == kind]


def connected_count(drv):
    return len(events(drv, "connected"))


def wait_connected(drv, count=1, timeout=15.0):
    """Until the page's client has been connected `count` times and is connected."""
    wait_js(drv, f"window.demo.events.filter(e => e.event === 'connected').length >= {count}"
                 " && window.demo.client.state === 'connected'", timeout)
    return events(drv, "connected")[-1]


def page_messages(drv):
    return [(m["number"], m["contents"]) for m in js(drv, "window.demo.messages")]


def wait_messages(drv, n, timeout=15.0):
    wait_js(drv, f"window.demo.messages.length >= {n}", timeout)
    return page_messages(drv)


def push_ok(svc, uid, contents, topic="t", **q):
    """A push with the password through /push (as a business server); 200 or 202."""
    query = {"uid": uid, "password": svc.password, **q}
    st, _, data = svc.request("POST", "/push", query, body={"topic": topic, "contents": contents},
                              headers={"Content-Type": "application/json"})
    assert st in (200, 202), (st, data)
    return st, data


class CuttableProxy:
    """A TCP relay from a port of its own to the web server: cut() closes every
    relayed connection and stops listening (connections are refused, as with the
    network gone); restore() listens again on the same port."""

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.lock = threading.Lock()
        self.conns = []
        self.listener = None
        self.port = None
        self.restore()

    def restore(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port or 0))
        s.listen(16)
        self.port = s.getsockname()[1]
        self.listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, lsock):
        while True:
            try:
                client, _ = lsock.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
                up.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, up]
            for a, b in ((client, up), (up, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        with self.lock:
            try:  # wakes the accept() blocked on it; close() alone would not
                self.listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.listener.close()
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.conns = []

    def close(self):
        self.cut()


@pytest.fixture
def proxy_for():
    made = []

    def make(svc):
        p = CuttableProxy(svc.http_port)
        made.append(p)
        return p
    yield make
    for p in made:
        p.close()


# -- the scenarios -------------------------------------------------------------

def test_messages_arrive_as_pushed(make_service, browser):
    """Pushes with the password (/push) and from the page's own form
    (/demo/api/push) arrive in order, numbered, with their contents intact."""
    svc = make_service(**BASE)
    uid = "b-arrive"
    open_page(browser, svc, uid=uid)
    first = wait_connected(browser)
    assert first["recovered"] is True and first["last"] == 0, first
    sent = [{"name": "张三", "age": 17}, [1, 2.5, None, True], "text ✓", 9007199254740991]
    for c in sent:
        push_ok(svc, uid, c)
    # The page's push form, through the demo backend (no password in the page).
    browser.find_element(By.ID, "contents").clear()
    browser.find_element(By.ID, "contents").send_keys('{"from": "the page"}')
    browser.find_element(By.ID, "push-btn").click()
    got = wait_messages(browser, 5)
    assert [n for n, _ in got] == [1, 2, 3, 4, 5], got
    for (_, c), want in zip(got, sent + [{"from": "the page"}]):
        assert same_json(c, want), (c, want)
    wait_js(browser, "document.getElementById('push-result').value.startsWith('200 ')")
    assert "推送成功" in js(browser, "document.getElementById('push-result').value")
    assert events(browser, "gap") == [] and events(browser, "error") == []
    # The page never saw the password: the key came from /demo/api/key.
    assert svc.password not in browser.page_source
    assert js(browser, "window.demo.keyFetches") == 1


def test_key_expiry_mid_session_reconnects_with_a_fresh_key(make_service, browser, proxy_for):
    """access_key_ttl 2 s and a page that keeps its key until refused (keyCache=1):
    after the key expired the connection drops; the reconnect with the old key is
    refused (1008, "expired"), the client takes a fresh key at once, and the
    messages pushed meanwhile arrive: nothing lost."""
    svc = make_service(**BASE, access_key_ttl=2)
    proxy = proxy_for(svc)
    uid = "b-expiry"
    open_page(browser, svc, uid=uid, keyCache=1, ws=f"ws://127.0.0.1:{proxy.port}/", **FAST)
    wait_connected(browser)
    push_ok(svc, uid, "before")
    wait_messages(browser, 1)
    # Keys are valid through the second of their expiry (issue + ttl): after
    # ttl + 1 s the page's key has expired for sure; its connection lives on.
    time.sleep(3.2)
    push_ok(svc, uid, "after expiry, still connected")
    wait_messages(browser, 2)
    proxy.cut()
    wait_js(browser, "window.demo.client.state !== 'connected'", 10)
    push_ok(svc, uid, "while away 1")
    push_ok(svc, uid, "while away 2")
    proxy.restore()
    wait_connected(browser, 2, timeout=20)
    got = wait_messages(browser, 4)
    assert got == [(1, "before"), (2, "after expiry, still connected"), (3, "while away 1"),
                   (4, "while away 2")], got
    refused = [e for e in events(browser, "error") if e["type"] == "refused"]
    assert refused and "expired" in refused[0]["reason"], \
        (js(browser, "window.demo.sockets"), js(browser, "window.demo.events"))
    assert js(browser, "window.demo.keyFetches") == 2
    last = events(browser, "connected")[-1]
    assert last["recovered"] is True, last
    assert events(browser, "gap") == []
    # The accepted reconnect resumed from the page's position.
    assert "since=2&epoch=" in js(browser, "window.demo.sockets.at(-1).url")


def test_killed_worker_reconnect_reports_what_the_server_says(make_service, browser):
    """kill -9 of the worker that owns the uid: the client reconnects once the
    supervisor replaced it, and reports what the server says: full recovery, or
    (here: the history died with the worker) a gap of the old epoch."""
    svc = make_service(**BASE)
    uid = "b-killed"
    open_page(browser, svc, uid=uid, **FAST)
    first = wait_connected(browser)
    push_ok(svc, uid, "before")
    wait_messages(browser, 1)
    os.kill(worker_pid(svc, shard(uid, svc.workers)), signal.SIGKILL)
    wait_js(browser, "window.demo.events.some(e => e.event === 'disconnected')", 10)
    after = wait_connected(browser, 2, timeout=25)
    gaps = events(browser, "gap")
    # The history died with the worker: a new epoch, reported as a gap of the old one.
    assert not after["recovered"] and after["epoch"] != first["epoch"], after
    assert gaps, "the server reported a loss but the page saw no gap"
    assert gaps[0]["epoch"] == first["epoch"] and gaps[0]["reason"] == "epoch", gaps
    push_ok(svc, uid, "after")
    got = wait_messages(browser, 2)
    assert got[-1][1] == "after", got
    assert js(browser, "window.demo.client.state") == "connected"


def test_network_cut_backs_off_then_recovers_what_was_missed(make_service, browser, proxy_for):
    """The proxy between page and service drops every connection and refuses new
    ones for 3 s: the client retries with growing, capped, jittered delays, and once
    the network is back it resumes with exactly the messages it missed."""
    svc = make_service(**BASE)
    proxy = proxy_for(svc)
    uid = "b-cut"
    open_page(browser, svc, uid=uid, ws=f"ws://127.0.0.1:{proxy.port}/", **FAST)
    wait_connected(browser)
    push_ok(svc, uid, "m1")
    wait_messages(browser, 1)
    proxy.cut()
    end = time.monotonic() + 3
    i = 2
    while time.monotonic() < end:
        push_ok(svc, uid, f"m{i}")
        i += 1
        time.sleep(0.5)
    proxy.restore()
    last = wait_connected(browser, 2, timeout=20)
    assert last["recovered"] is True, last
    got = wait_messages(browser, i - 1)
    assert got == [(n, f"m{n}") for n in range(1, i)], got
    assert events(browser, "gap") == []
    # Backoff: several retries while cut, each delay within its ceiling
    # min(maxDelay, minDelay * 2^attempt), the ceilings growing then capped.
    retries = events(browser, "reconnect")
    assert len(retries) >= 3, retries
    for r in retries:
        ceiling = min(FAST["maxDelay"], FAST["minDelay"] * 2 ** (r["attempt"] - 1))
        assert 0 <= r["delay"] < ceiling, (r, ceiling)
    assert [r["attempt"] for r in retries] == list(range(1, len(retries) + 1)), retries
    # A fresh key for every attempt, never a refused one.
    assert not [e for e in events(browser, "error") if e["type"] == "refused"]
    assert js(browser, "window.demo.keyFetches") >= len(retries)


def test_page_reload_resumes_from_storage(make_service, browser):
    """The position lives in sessionStorage: the page left and came back (same tab)
    gets exactly what was pushed meanwhile; a reload after that replays nothing."""
    svc = make_service(**BASE)
    uid = "b-reload"
    open_page(browser, svc, uid=uid)
    epoch = wait_connected(browser)["epoch"]
    for i in (1, 2):
        push_ok(svc, uid, f"seen{i}")
    wait_messages(browser, 2)
    browser.get("about:blank")  # the page is gone, its socket with it
    assert wait_until(lambda: svc.metrics()["push_connections"] == 0, 10), \
        ("the page's connection stayed after it left", svc.metrics()["push_connections"], js(browser, "location.href"))
    assert push_ok(svc, uid, "missed")[0] == 202  # kept for the uid's next connection
    open_page(browser, svc, uid=uid)
    back = wait_connected(browser)
    assert back["epoch"] == epoch and back["recovered"] is True, back
    got = wait_messages(browser, 1)
    assert got == [(3, "missed")], got
    assert f"since=2&epoch={epoch}" in js(browser, "window.demo.sockets[0].url")
    browser.refresh()
    wait_js(browser, "window.demo && window.demo.ready === true")
    wait_connected(browser)
    assert f"since={got[-1][0]}&epoch={epoch}" in js(browser, "window.demo.sockets[0].url")
    push_ok(svc, uid, "live")
    assert wait_messages(browser, 1) == [(4, "live")], "replayed after a reload"


def test_two_tabs_of_one_uid_both_receive(make_service, browser):
    svc = make_service(**BASE)
    uid = "b-tabs"
    open_page(browser, svc, uid=uid)
    wait_connected(browser)
    tab_a = browser.current_window_handle
    browser.switch_to.new_window("tab")
    open_page(browser, svc, uid=uid)
    wait_connected(browser)
    tab_b = browser.current_window_handle
    svc.wait_online(uid, 2)
    for i in range(3):
        push_ok(svc, uid, f"both{i}")
    for tab in (tab_b, tab_a):
        browser.switch_to.window(tab)
        wait_js(browser, "window.demo.messages.filter(m => m.topic === 't').length >= 3")
        got = [m["contents"] for m in js(browser, "window.demo.messages") if m["topic"] == "t"]
        assert got == ["both0", "both1", "both2"], (tab, got)


def test_acks_reach_the_server(make_service, browser):
    """Automatic acknowledgements: a push that waits for one (?ack=1) is answered
    acked; the server's acked position is what a since=acked client starts after.
    Without autoAck the same push times out unacknowledged until "Ack last"."""
    svc = make_service(**BASE)
    uid = "b-ack"
    open_page(browser, svc, uid=uid)
    wait_connected(browser)
    for i in (1, 2):
        t0 = time.monotonic()
        st, data = push_ok(svc, uid, f"ack me {i}", ack=1)
        assert st == 200 and data["acked"] is True and data["seq"] == i, data
        assert time.monotonic() - t0 < 1.4, "answered by the ack, not the timeout"
    wait_js(browser, "window.demo.sockets.at(-1).acks.includes(2)")
    # The page's own form with "wait for the acknowledgement".
    browser.find_element(By.ID, "wait-ack").click()
    browser.find_element(By.ID, "push-btn").click()
    wait_js(browser, "document.getElementById('push-result').value.startsWith('200 ')")
    answer = json.loads(js(browser, "document.getElementById('push-result').value")[4:])
    assert answer["acked"] is True and answer["seq"] == 3, answer

    async def acked_position():
        ws = await connect_at(svc, uid, since="acked")
        try:
            return await position(ws)
        finally:
            await ws.close()
    assert run(acked_position())["acked"] == 3

    # Manual acknowledgements: nothing is acknowledged until the button.
    browser.get(page_url(svc, uid=uid, autoAck=0))
    wait_js(browser, "window.demo && window.demo.ready === true")
    wait_connected(browser)
    st, data = push_ok(svc, uid, "not acked", ack=1)
    assert data["acked"] is False, data
    wait_messages(browser, 1)
    browser.find_element(By.ID, "ack-now").click()
    wait_js(browser, "window.demo.sockets.at(-1).acks.includes(4)")
    assert wait_until(lambda: run(acked_position())["acked"] == 4, 5)


def test_demo_page_screenshot(make_service, browser, tmp_path):
    """The README's picture: a few pushes, a reconnect and an acknowledgement.
    PUSH_DEMO_SCREENSHOT=docs/demo.png writes it there (it is checked in)."""
    svc = make_service(**BASE)
    uid = "demo"
    browser.set_window_size(1280, 1180)
    open_page(browser, svc, uid=uid, **FAST)
    wait_connected(browser)
    push_ok(svc, uid, {"text": "hello", "n": 1}, topic="greeting")
    push_ok(svc, uid, {"order": 1042, "status": "shipped"}, topic="order_update", ack=1)
    wait_messages(browser, 2)
    os.kill(worker_pid(svc, shard(uid, svc.workers)), signal.SIGKILL)  # reconnect, gap
    wait_connected(browser, 2, timeout=25)
    push_ok(svc, uid, {"name": "张三", "age": 17}, topic="info_update")
    browser.find_element(By.ID, "wait-ack").click()
    browser.find_element(By.ID, "push-btn").click()
    wait_js(browser, "document.getElementById('push-result').value.startsWith('200 ')")
    wait_messages(browser, 4)
    out = os.environ.get("PUSH_DEMO_SCREENSHOT") or str(tmp_path / "demo.png")
    assert browser.save_screenshot(out)
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
