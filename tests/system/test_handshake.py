# SPDX-License-Identifier: MIT
"""The WebSocket edge: handshakes ws-daemon refuses itself (RFC 6455 4.2.1) with a JSON
HTTP error, /ws bodies the web servers refuse at once, uid routing that cannot split a
uid between workers, and close / frame checks with exact close codes. Each runs on
ws-daemon's own port and through the web server in front of it."""
import base64
import json
import os
import re
import socket
import struct
import time
import urllib.parse

import pytest

from conftest import (RawWS, assert_serving, is_error_body, push_until_delivered, raw_exchange,
                      response_complete, split_response, wait_until)

KEY = base64.b64encode(b"0123456789abcdef").decode()
VIA = ["direct", "web"]


def port_of(svc, via):
    return svc.ws_port if via == "direct" else svc.http_port


def handshake(target, port, method="GET", version="HTTP/1.1", drop=(), extra=(), body=b""):
    """Request bytes: a valid handshake for `target` minus the headers named in drop."""
    hdrs = [("Host", f"127.0.0.1:{port}"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", KEY), ("Sec-WebSocket-Version", "13")]
    hdrs = [(k, v) for k, v in hdrs if k not in drop] + list(extra)
    head = f"{method} {target} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs)
    return head.encode("latin-1") + b"\r\n" + body


def exchange(port, request):
    """(status, lower-cased headers, body bytes) of the answer to raw request bytes."""
    raw = raw_exchange(port, request, until=response_complete, timeout=5)
    assert raw, "no answer"
    head = raw.partition(b"\r\n\r\n")[0].decode("latin-1")
    hdrs = {}
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    status, body = split_response(raw)
    return status, hdrs, body


def target(uid=None, key=None, path="/ws"):
    q = {}
    if uid is not None:
        q["uid"] = uid
    if key is not None:
        q["access_key"] = key
    return path + ("?" + urllib.parse.urlencode(q) if q else "")


# (id, request builder(port), status, extra header (name, value) or None, reason)
REFUSALS = [
    ("nul-in-uid", lambda p: handshake("/ws?uid=a%00b&access_key=k", p), 400, None,
     "uid is badly encoded"),
    ("nul-in-key", lambda p: handshake("/ws?uid=a&access_key=k%00", p), 400, None,
     "access_key is badly encoded"),
    ("no-ws-key", lambda p: handshake("/ws?uid=a", p, drop=("Sec-WebSocket-Key",)), 400, None,
     "Sec-WebSocket-Key is missing"),
    ("empty-ws-key", lambda p: handshake("/ws?uid=a", p, drop=("Sec-WebSocket-Key",),
                                         extra=[("Sec-WebSocket-Key", "")]), 400, None,
     "Sec-WebSocket-Key is missing"),
    ("short-ws-key", lambda p: handshake("/ws?uid=a", p, drop=("Sec-WebSocket-Key",),
                                         extra=[("Sec-WebSocket-Key", "c2hvcnQ=")]), 400, None,
     "Sec-WebSocket-Key is not base64 of 16 bytes"),
    ("version-8", lambda p: handshake("/ws?uid=a", p, drop=("Sec-WebSocket-Version",),
                                      extra=[("Sec-WebSocket-Version", "8")]), 426,
     ("sec-websocket-version", "13"), "Sec-WebSocket-Version 13 is required"),
    ("version-12", lambda p: handshake("/ws?uid=a", p, drop=("Sec-WebSocket-Version",),
                                       extra=[("Sec-WebSocket-Version", "12")]), 426,
     ("sec-websocket-version", "13"), "Sec-WebSocket-Version 13 is required"),
    ("version-garbage", lambda p: handshake("/ws?uid=a", p, drop=("Sec-WebSocket-Version",),
                                            extra=[("Sec-WebSocket-Version", "x13")]), 426,
     ("sec-websocket-version", "13"), "Sec-WebSocket-Version 13 is required"),
    ("version-missing", lambda p: handshake("/ws?uid=a", p, drop=("Sec-WebSocket-Version",)),
     426, ("sec-websocket-version", "13"), "Sec-WebSocket-Version 13 is required"),
    ("plain-get", lambda p: f"GET /ws?uid=a HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\n\r\n".encode(),
     426, ("upgrade", "websocket"), "this is a WebSocket endpoint; upgrade required"),
    ("post-no-body", lambda p: handshake("/ws?uid=a", p, method="POST",
                                         extra=[("Content-Length", "0")]), 405, ("allow", "GET"),
     "method not allowed; a WebSocket opens with GET"),
    ("no-uid", lambda p: handshake("/ws?access_key=k", p), 400, None, "uid is missing"),
    ("empty-uid", lambda p: handshake("/ws?uid=&access_key=k", p), 400, None, "uid is missing"),
    ("uid-too-long", lambda p: handshake("/ws?uid=" + "u" * 257, p), 400, None,
     "uid is too long"),
    ("uid-control", lambda p: handshake("/ws?uid=a%01", p), 400, None,
     "uid contains control characters"),
    ("bare-uid", lambda p: handshake("/ws?uid&uid=x", p), 400, None, "uid has no '='"),
    ("uid-twice", lambda p: handshake("/ws?uid=x&uid=y", p), 400, None, "uid is given twice"),
    ("semicolon-name", lambda p: handshake("/ws?a;uid=x", p), 400, None,
     "ambiguous query parameter name"),
    ("key-twice", lambda p: handshake("/ws?uid=x&access_key=a&access_key=b", p), 400, None,
     "access_key is given twice"),
]


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("case,build,status,extra,reason", REFUSALS,
                         ids=[c[0] for c in REFUSALS])
def test_handshake_refused(service, via, case, build, status, extra, reason):
    port = port_of(service, via)
    st, hdrs, body = exchange(port, build(port))
    assert st == status, (st, hdrs, body)
    data = json.loads(body)
    assert is_error_body(data), data
    if extra is not None:
        assert hdrs.get(extra[0]) == extra[1], hdrs
    assert data["contents"] == reason, data
    if via == "direct":
        assert hdrs["content-type"] == "application/json" and hdrs["connection"] == "close"
    assert_serving(service, f"after-{case}")


def test_handshake_refusal_counted_and_logged(make_service):
    # A daemon of its own: refusal lines are rate-limited per second, and the
    # module's shared service takes dozens of refusals a second.
    service = make_service()
    before = service.metrics().get("push_ws_handshake_refused_total", 0)
    st, _, _ = exchange(service.ws_port, handshake("/ws?uid=x&uid=y", service.ws_port))
    assert st == 400
    st, _, _ = exchange(service.http_port, handshake("/ws?uid=x&uid=z", service.http_port,
                                                     extra=[("X-Forwarded-For", "203.0.113.9")]))
    assert st == 400
    assert service.metrics()["push_ws_handshake_refused_total"] == before + 2
    pat = re.compile(r"refused a WebSocket handshake from 127\.0\.0\.1:\d+ "
                     r"\(X-Forwarded-For 203\.0\.113\.9[^)]*\): 400 uid is given twice")
    assert wait_until(lambda: pat.search(service.read_log(service.daemon_log)), 5), \
        service.read_log(service.daemon_log)[-2000:]


def test_wrong_path_is_json_404(service):
    for port in (service.ws_port, service.http_port):
        st, _, body = exchange(port, handshake("/wsx?uid=a", port))
        assert st == 404 and is_error_body(json.loads(body)), (port, st, body)


def test_direct_only_refusals(service):
    """What the web servers do not forward as such: checked on ws-daemon's port."""
    p = service.ws_port
    st, _, body = exchange(p, handshake("/ws?uid=a", p, version="HTTP/1.0"))
    assert st == 505 and json.loads(body)["contents"] == "HTTP/1.1 is required"
    st, _, body = exchange(p, handshake("/ws?%75id=x", p))
    assert st == 400 and json.loads(body)["contents"] == "ambiguous query parameter name"
    big = handshake("/ws?uid=a", p, extra=[("X-Pad", "p" * 9000)])
    st, _, body = exchange(p, big)
    assert st == 431 and json.loads(body)["contents"] == "request head too large"
    st, _, body = exchange(p, handshake("/ws?uid=a", p, extra=[("Content-Length", "5")],
                                        body=b"hello"))
    assert st == 413 and json.loads(body)["contents"] == "a WebSocket handshake has no body"
    assert_serving(service)


# -- /ws request bodies (finding: a 64 MiB POST was spooled to disk) ----------------------

def body_request(port, method, size, chunked=False):
    h = f"{method} /ws?uid=a HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    h += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {size}\r\n"
    return h.encode() + b"\r\n"


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("method,chunked", [("POST", False), ("POST", True), ("GET", False)],
                         ids=["post", "post-chunked", "get"])
def test_ws_body_refused_at_once(service, via, method, chunked):
    """A 64 MiB body announced on /ws is refused before it is sent, nothing spooled."""
    port = port_of(service, via)
    size = 64 << 20
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(body_request(port, method, size, chunked))
        if chunked:
            s.sendall(b"100000\r\n" + b"x" * 65536)
        t0 = time.monotonic()
        raw = b""
        while b"}" not in raw:
            chunk = s.recv(65536)
            if not chunk:
                break
            raw += chunk
        took = time.monotonic() - t0
    finally:
        s.close()
    status, body = split_response(raw)
    # lighttpd refuses a GET with a body itself, with 400; everything else is 413.
    want = 400 if (via == "web" and service.web == "lighttpd" and method == "GET") else 413
    assert status == want, raw[:300]
    assert is_error_body(json.loads(body)), body
    # Answered with 64 KiB of 64 MiB sent: nothing waited for (or spooled) the body.
    assert took < 2.0, f"answered after {took:.1f} s: the body was being read"


# -- routing: one reading of the uid decides the worker and the subscriber ----------------

@pytest.fixture
def sharded(make_service):
    return make_service(workers=3)


def connected_and_delivered(svc, port, tgt, uid, key):
    raw = RawWS(port, tgt.replace("KEY", urllib.parse.quote(key, safe="")))
    try:
        st, _, data = push_until_delivered(svc, uid, "routed", uid)
        assert st == 200 and data["number"] == 1, (st, data)
        while True:
            op, payload = raw.recv_frame()
            msg = json.loads(payload)
            if msg["topic"] == "routed":
                assert msg["contents"] == uid
                return
    finally:
        raw.close()


@pytest.mark.parametrize("via", VIA)
def test_uids_reach_their_worker(sharded, via):
    """30 uids over 3 workers: every connection is where /push looks for it."""
    port = port_of(sharded, via)
    for i in range(30):
        uid = f"routed-{i}"
        connected_and_delivered(sharded, port, f"/ws?uid={uid}&access_key=KEY", uid,
                                sharded.access(uid))


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("form", ["%75id=x", "uid&uid=x", "uid=x;uid=y", "a;uid=x&uid=x",
                                  "uid=x&uid=x"])
def test_ambiguous_uid_is_refused_or_consistent(sharded, via, form):
    """The old router and lws read these differently: connected, yet offline. Now the
    daemon refuses them (400); lighttpd alone decodes %75 to 'u' before forwarding, and
    then every part of the service reads uid=x."""
    port = port_of(sharded, via)
    key = sharded.access("x")
    tgt = f"/ws?{form}&access_key={urllib.parse.quote(key, safe='')}"
    if form == "uid=x;uid=y":
        # ';' is part of the value: uid "x;uid=y", one reading everywhere.
        uid = "x;uid=y"
        tgt = f"/ws?{form}&access_key={urllib.parse.quote(sharded.access(uid), safe='')}"
        connected_and_delivered(sharded, port, tgt, uid, "")
        return
    if via == "web" and sharded.web == "lighttpd" and form == "%75id=x":
        connected_and_delivered(sharded, port, tgt, "x", key)
        return
    st, _, body = exchange(port, handshake(tgt, port))
    assert st == 400 and is_error_body(json.loads(body)), (st, body)
    st, _, data = sharded.push("x", "t", 1)
    assert st == 404, (st, data)


# -- extension offers no longer reach lws ------------------------------------------------

@pytest.mark.parametrize("via", VIA)
def test_long_extension_offer_still_upgrades(service, via):
    port = port_of(service, via)
    uid = f"ext-offer-{via}"
    key = urllib.parse.quote(service.access(uid), safe="")
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        offer = "x-long; " + "p" * 300
        s.sendall(handshake(f"/ws?uid={uid}&access_key={key}", port,
                            extra=[("Sec-WebSocket-Extensions", offer)]))
        raw = b""
        while b"\r\n\r\n" not in raw:
            chunk = s.recv(4096)
            assert chunk, raw
            raw += chunk
        head, _, rest = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        assert b"sec-websocket-extensions" not in head.lower()
        st, _, data = push_until_delivered(service, uid, "ext", 1)
        assert st == 200 and data["number"] == 1
        while b"\"ext\"" not in rest:
            chunk = s.recv(4096)
            assert chunk
            rest += chunk
    finally:
        s.close()


# -- close frames (RFC 6455 5.5.1, 7.4) ----------------------------------------------------

def close_then_eof(raw, payload):
    """Sends a Close with payload; returns (server's close code or None, seconds from our
    Close until the server closed TCP). Does not answer the server's Close."""
    raw.send_frame(0x8, payload)
    t0 = time.monotonic()
    code = None
    try:
        while True:
            op, p = raw.recv_frame()
            if op == 0x8:
                code = struct.unpack("!H", p[:2])[0] if len(p) >= 2 else 1005
    except (EOFError, ConnectionResetError):
        pass
    return code, time.monotonic() - t0


def open_raw(svc, via, uid):
    raw = RawWS(port_of(svc, via), target(uid, svc.access(uid)), timeout=5)
    svc.wait_online(uid)
    return raw


INVALID_CLOSE = [b"\x03"] + [struct.pack("!H", c) for c in
                             (0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535)]
VALID_CLOSE = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4000, 4999]


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("payload", INVALID_CLOSE, ids=lambda p: p.hex())
def test_invalid_close_gets_1002_and_prompt_tcp_close(service, via, payload):
    raw = open_raw(service, via, "bad-close")
    try:
        code, took = close_then_eof(raw, payload)
    finally:
        raw.close()
    assert code == 1002, code
    assert took < 1.0, f"TCP closed {took:.2f} s after the Close"


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("code", VALID_CLOSE)
def test_valid_close_is_echoed(service, via, code):
    raw = open_raw(service, via, "good-close")
    try:
        got, took = close_then_eof(raw, struct.pack("!H", code) + "再见".encode())
    finally:
        raw.close()
    assert got == code, got
    assert took < 1.0, f"TCP closed {took:.2f} s after the Close"


@pytest.mark.parametrize("via", VIA)
def test_close_reason_not_utf8_fails_the_connection(service, via):
    """lws drops it before the daemon sees it, without a Close 1007 (README, Known limits):
    what is checked is that the connection is failed at once and nothing is echoed."""
    raw = open_raw(service, via, "bad-reason")
    try:
        code, took = close_then_eof(raw, struct.pack("!H", 1000) + b"ok \xff")
    finally:
        raw.close()
    assert code in (None, 1007), code
    assert took < 1.0


# -- protocol errors: 1002 exactly, then the TCP connection goes ---------------------------

PROTOCOL_ERRORS = {
    "reserved-opcode": lambda r: r.send_frame(0x3, b"x"),
    "reserved-control-opcode": lambda r: r.send_frame(0xB, b"x"),
    "rsv-bits": lambda r: r.sock.sendall(b"\xf1\x80" + os.urandom(4)),
    "rsv1-no-extension": lambda r: r.sock.sendall(b"\xc1\x80" + os.urandom(4)),
    "continuation-first": lambda r: r.send_frame(0x0, b"nothing to continue"),
    "new-message-inside-fragmented": lambda r: (r.send_frame(0x1, b"a", fin=False),
                                                r.send_frame(0x1, b"b")),
    "fragmented-ping": lambda r: r.send_frame(0x9, b"p", fin=False),
}


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("kind", list(PROTOCOL_ERRORS))
def test_protocol_error_closes_1002_promptly(service, via, kind):
    uid = f"perr-{kind}"
    raw = open_raw(service, via, uid)
    try:
        PROTOCOL_ERRORS[kind](raw)
        t0 = time.monotonic()
        code = None
        try:
            while True:
                op, p = raw.recv_frame()
                if op == 0x8:
                    code = struct.unpack("!H", p[:2])[0]
        except (EOFError, ConnectionResetError):
            pass
        took = time.monotonic() - t0
    finally:
        raw.close()
    assert code == 1002, code
    assert took < 1.0, f"TCP closed {took:.2f} s after the protocol error"
    st, _, _ = service.push(uid, "t", 1)
    assert st == 404


@pytest.mark.parametrize("via", VIA)
def test_control_frame_over_125_bytes_fails_the_connection(service, via):
    """lws 4.1 drops the TCP connection without a Close 1002 (README, Known limits)."""
    raw = open_raw(service, via, "big-ping")
    try:
        raw.send_frame(0x9, b"p" * 126)
        t0 = time.monotonic()
        frames, code = raw.frames_until_close()
        took = time.monotonic() - t0
    finally:
        raw.close()
    assert not [f for f in frames if f[0] == 0xA], "a 126-byte ping was answered"
    assert code in (None, 1002), code
    assert took < 1.0


@pytest.mark.parametrize("via", VIA)
def test_ping_inside_fragmented_message_is_fine(service, via):
    """A control frame between fragments is allowed (RFC 6455 5.4): answered, message kept."""
    uid = "interleaved-ping"
    raw = open_raw(service, via, uid)
    try:
        raw.send_frame(0x1, b"frag", fin=False)
        raw.send_frame(0x9, b"hi")
        raw.send_frame(0x0, b"ment", fin=True)
        while True:
            op, p = raw.recv_frame()
            if op == 0xA:
                assert p == b"hi"
                break
        st, _, data = push_until_delivered(service, uid, "after", 1)
        assert st == 200 and data["number"] == 1
    finally:
        raw.close()
