# SPDX-License-Identifier: MIT
"""The API contract end to end: /access, /ws (through lighttpd), /push, message
format, per-uid numbering, several connections per uid, offline detection."""
import asyncio
import re
import json
import socket
import time

import pytest
import websockets

from conftest import (assert_serving, is_error_body, poll_status, push_until_delivered,
                      recv_json, recv_user, run, same_json, split_response)

SUCCESS_1 = {"topic": "success", "number": 1, "contents": "推送成功"}
OFFLINE = {"topic": "error", "number": 0, "contents": "此用户不在线"}


# -- /access -------------------------------------------------------------------

def test_access_issues_key(service):
    before = int(time.time())
    st, hdrs, data = service.request("GET", "/access",
                                     {"uid": "acc-1", "password": service.password})
    after = int(time.time())
    assert st == 200, data
    assert hdrs["content-type"].startswith("application/json")
    assert set(data) == {"topic", "number", "contents"}
    assert data["topic"] == "_access" and data["number"] == 1
    # v2.<expiry>.<secret id>.<uid tag>.<signature>, valid for the default 60 s.
    m = re.fullmatch(r"v2\.(\d+)\.[0-9a-f]{8}\.[0-9a-f]{8}\.[A-Za-z0-9_-]{43}", data["contents"])
    assert m, data["contents"]
    # time(2) reads a coarse clock that may still show the previous second.
    assert before - 1 + 60 <= int(m.group(1)) <= after + 60, (m.group(1), before)


def test_access_bearer_password(service):
    st, _, data = service.request("GET", "/access", {"uid": "acc-2"},
                                  headers={"Authorization": f"Bearer {service.password}"})
    assert st == 200, data
    assert data["topic"] == "_access" and data["contents"]


@pytest.mark.parametrize("query,headers,status", [
    ({"uid": "acc-3", "password": "wrong"}, {}, 401),
    ({"uid": "acc-3"}, {}, 401),
    ({"uid": "acc-3", "password": ""}, {}, 401),
    ({"uid": "acc-3"}, {"Authorization": "Bearer wrong"}, 401),
    ({"uid": "acc-3"}, {"Authorization": "Basic czNjcmV0LXB3"}, 401),
    ({"password": None}, {}, 400),
    ({"uid": "", "password": None}, {}, 400),
], ids=["wrong-pw", "no-pw", "empty-pw", "wrong-bearer", "basic-auth", "no-uid", "empty-uid"])
def test_access_errors(service, query, headers, status):
    q = {k: (service.password if v is None else v) for k, v in query.items()}
    st, _, data = service.request("GET", "/access", q, headers=headers)
    assert st == status, data
    assert is_error_body(data), data


def test_access_keys_are_per_uid(service):
    """A key only opens the uid it was issued for: two uids get different keys."""
    assert service.access("per-uid-a") != service.access("per-uid-b")


# -- /push and delivery --------------------------------------------------------

def test_push_offline_uid_is_404(service):
    st, hdrs, data = service.push("nobody-here", "t", {"x": 1})
    assert st == 404
    assert data == OFFLINE
    assert hdrs["content-type"].startswith("application/json")


def test_push_delivers_one_text_frame(service):
    async def go():
        ws = await service.connect("deliver-1")
        try:
            st, hdrs, data = await asyncio.to_thread(
                push_until_delivered, service, "deliver-1", "info_update",
                {"name": "张三", "age": 17})
            assert st == 200 and data == SUCCESS_1
            assert hdrs["content-type"].startswith("application/json")
            raw = await asyncio.wait_for(ws.recv(), 5)
            assert isinstance(raw, str), "pushes must arrive as text frames"
            msg = json.loads(raw)
            assert set(msg) == {"topic", "number", "contents"}
            assert msg["topic"] == "info_update"
            assert same_json(msg["contents"], {"name": "张三", "age": 17})
            assert msg["number"] == 1
        finally:
            await ws.close()
    run(go())


def test_push_bearer_password(service):
    async def go():
        ws = await service.connect("bearer-push")
        try:
            st, _, data = await asyncio.to_thread(
                push_until_delivered, service, "bearer-push", "b", "via bearer",
                password=False, headers={"Authorization": f"Bearer {service.password}"})
            assert st == 200 and data == SUCCESS_1
            msg = await recv_json(ws)
            assert msg["contents"] == "via bearer"
        finally:
            await ws.close()
    run(go())


VALUES = [
    "plain",
    "",
    "张三",
    "emoji 😀🎉 and 𝄞",
    "quotes \" backslash \\ slash / newline \n tab \t cr \r bs \b ff \f",
    "control \u0001\u001f del \u007f nul \u0000 end",
    "\u2028\u2029 separators",
    0,
    -1,
    17,
    2 ** 63 - 1,
    -2 ** 63,
    1.5,
    0.1,
    -2.5e-300,
    1e300,
    1.0,
    True,
    False,
    None,
    [],
    {},
    [1, "二", None, True, 2.25, {"k": []}],
    {"name": "张三", "age": 17, "nested": {"a": [1, {"b": "c"}], "e": {}}, "z": None},
    {"键": "值", "😀": "emoji key", "a\"b": "quote key"},
    json.loads("[" * 60 + '"deep"' + "]" * 60),
]


def test_contents_roundtrip_same_value(service):
    """Every JSON type arrives as the same value (ints stay ints, reals stay reals)."""
    async def go():
        ws = await service.connect("values")
        try:
            await asyncio.to_thread(service.wait_online, "values")
            for i, v in enumerate(VALUES):
                st, _, data = await asyncio.to_thread(service.push, "values", f"v{i}", v)
                assert st == 200 and data == SUCCESS_1, (v, st, data)
                msg = await recv_user(ws)
                assert msg["topic"] == f"v{i}"
                assert same_json(msg["contents"], v), (v, msg["contents"])
        finally:
            await ws.close()
    run(go())


def test_unicode_and_escaped_topic(service):
    async def go():
        ws = await service.connect("topics")
        try:
            await asyncio.to_thread(service.wait_online, "topics")
            for topic in ["会员资料更新", "😀", "a\"b\\c\nd", ""]:
                st, _, data = await asyncio.to_thread(service.push, "topics", topic, 1)
                assert st == 200, data
                msg = await recv_user(ws)
                assert msg["topic"] == topic
        finally:
            await ws.close()
    run(go())


def test_raw_utf8_body_and_escaped_body_agree(service):
    """A body with raw UTF-8 and one with \\u escapes mean the same string."""
    async def go():
        ws = await service.connect("utf8-forms")
        try:
            await asyncio.to_thread(service.wait_online, "utf8-forms")
            raw_body = '{"topic":"t","contents":"张三😀"}'.encode()
            esc_body = b'{"topic":"t","contents":"\\u5f20\\u4e09\\ud83d\\ude00"}'
            for body in (raw_body, esc_body):
                st, _, data = await asyncio.to_thread(service.push, "utf8-forms", body=body)
                assert st == 200, data
                msg = await recv_user(ws)
                assert msg["contents"] == "张三😀"
        finally:
            await ws.close()
    run(go())


@pytest.mark.parametrize("number", ["123456789012345678901234567890", "18446744073709551616",
                                    "9223372036854775808", "-9223372036854775809"])
def test_integer_beyond_64_bits_refused(service, number):
    async def go():
        ws = await service.connect("bigint")
        try:
            await asyncio.to_thread(service.wait_online, "bigint")
            body = '{"topic":"big","contents":%s}' % number
            st, _, data = await asyncio.to_thread(service.push, "bigint", body=body)
            assert st == 400, data
            assert is_error_body(data), data
            # Nothing was delivered: the next frame is the following push.
            st, _, _ = await asyncio.to_thread(service.push, "bigint", "after", 1)
            assert st == 200
            msg = await recv_user(ws)
            assert msg["topic"] == "after", msg
        finally:
            await ws.close()
    run(go())


# -- numbering -----------------------------------------------------------------

def test_numbers_count_per_uid(service):
    """number is 1, 2, 3, ... per uid, independently for each uid (no probes used:
    404 pushes consume no number, so the first delivered push is number 1)."""
    async def go():
        a = await service.connect("seq-a")
        b = await service.connect("seq-b")
        try:
            await asyncio.to_thread(push_until_delivered, service, "seq-a", "a", 0)
            await asyncio.to_thread(push_until_delivered, service, "seq-b", "b", 0)
            for i in range(1, 6):
                for uid, t in (("seq-a", "a"), ("seq-b", "b")):
                    st, _, data = await asyncio.to_thread(service.push, uid, t, i)
                    assert st == 200 and data == SUCCESS_1
            st, _, _ = await asyncio.to_thread(service.push, "seq-a", "a", 6)
            assert st == 200
            got_a = [await recv_json(a) for _ in range(7)]
            got_b = [await recv_json(b) for _ in range(6)]
            assert [m["number"] for m in got_a] == list(range(1, 8)), got_a
            assert [m["contents"] for m in got_a] == list(range(0, 7))
            assert [m["number"] for m in got_b] == list(range(1, 7)), got_b
            assert [m["contents"] for m in got_b] == list(range(0, 6))
        finally:
            await a.close()
            await b.close()
    run(go())


def test_numbers_strictly_increasing_after_probes(service):
    async def go():
        ws = await service.connect("seq-probe")
        try:
            await asyncio.to_thread(service.wait_online, "seq-probe")
            for i in range(10):
                st, _, _ = await asyncio.to_thread(service.push, "seq-probe", "n", i)
                assert st == 200
            got = [await recv_user(ws) for _ in range(10)]
            nums = [m["number"] for m in got]
            assert nums == list(range(nums[0], nums[0] + 10)), nums
            assert nums[0] == 2  # wait_online stops at its first delivered probe
        finally:
            await ws.close()
    run(go())


# -- several connections per uid -----------------------------------------------

def test_every_connection_of_uid_receives(service):
    async def go():
        conns = [await service.connect("multi") for _ in range(3)]
        other = await service.connect("multi-other")
        try:
            await asyncio.to_thread(service.wait_online, "multi", 3)
            st, _, data = await asyncio.to_thread(service.push, "multi", "all", {"k": "v"})
            assert st == 200
            assert data == {"topic": "success", "number": 3, "contents": "推送成功"}
            msgs = [await recv_user(c) for c in conns]
            assert all(m["topic"] == "all" and m["contents"] == {"k": "v"} for m in msgs)
            assert len({m["number"] for m in msgs}) == 1, "one push, one number"
            # The other uid got nothing: the first frame it gets is a push to itself.
            st, _, data = await asyncio.to_thread(push_until_delivered, service,
                                                  "multi-other", "own", 1)
            assert data == SUCCESS_1, data
            assert await recv_json(other) == {"topic": "own", "number": 1, "contents": 1}
        finally:
            for c in conns + [other]:
                await c.close()
    run(go())


def test_count_drops_when_one_connection_closes(service):
    async def go():
        a = await service.connect("multi-drop")
        b = await service.connect("multi-drop")
        try:
            await asyncio.to_thread(service.wait_online, "multi-drop", 2)
            await a.close()
            # The daemon learns of the close as an event; the bound is only generous.
            end = time.monotonic() + 10
            while True:
                st, _, data = await asyncio.to_thread(service.push, "multi-drop", "x", 1)
                assert st == 200, data
                if data["number"] == 1 or time.monotonic() > end:
                    break
                await asyncio.sleep(0.02)
            assert data["number"] == 1, "closed connection still counted after 10 s"
            msg = await recv_user(b)
            assert msg["topic"] == "x"
        finally:
            await a.close()
            await b.close()
    run(go())


def test_disconnect_makes_uid_offline(service):
    async def go():
        ws = await service.connect("leaver")
        await asyncio.to_thread(service.wait_online, "leaver")
        await ws.close()
    run(go())
    st, data = poll_status(service, "leaver", 404, timeout=10)
    assert st == 404 and data == OFFLINE, (st, data)


def test_same_key_reconnects(service):
    """A key stays valid for its ttl: a second connection with it works after the first left."""
    key = service.access("reuse")

    async def go():
        for _ in range(2):
            ws = await service.connect("reuse", key)
            try:
                st, _, data = await asyncio.to_thread(push_until_delivered, service, "reuse",
                                                      "r", 1)
                assert data == SUCCESS_1
                assert (await recv_json(ws))["topic"] == "r"
            finally:
                await ws.close()
    run(go())


@pytest.mark.parametrize("uid", ["u" * 256, "张" * 85 + "a"], ids=["ascii", "utf8"])
def test_uid_at_max_length_works(service, uid):
    assert len(uid.encode()) == 256  # max_uid_bytes default

    async def go():
        ws = await service.connect(uid)
        try:
            st, _, data = await asyncio.to_thread(push_until_delivered, service, uid, "m", 1)
            assert data == SUCCESS_1
            assert (await recv_json(ws))["contents"] == 1
        finally:
            await ws.close()
    run(go())


def test_unicode_uid_works(service):
    uid = "张三 +&=?/%"
    async def go():
        ws = await service.connect(uid)
        try:
            st, _, data = await asyncio.to_thread(push_until_delivered, service, uid, "m", "u")
            assert data == SUCCESS_1
            assert (await recv_json(ws))["contents"] == "u"
            st, _, _ = await asyncio.to_thread(service.push, "张三", "m", "u")
            assert st == 404, "a different uid must not match"
        finally:
            await ws.close()
    run(go())


# -- refused WebSockets ----------------------------------------------------------

async def expect_refused(url):
    """Exactly one error frame, then Close 1008. Returns the error reason."""
    ws = await websockets.connect(url, ping_interval=None, max_size=None)
    try:
        msg = await recv_json(ws)
        assert set(msg) == {"topic", "number", "contents"}, msg
        assert msg["topic"] == "error" and isinstance(msg["contents"], str) and msg["contents"]
        try:
            extra = await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed as e:
            assert e.rcvd is not None, "no Close frame received"
            assert e.rcvd.code == 1008, e
        else:
            raise AssertionError(f"a second frame after the error: {extra!r}")
        return msg["contents"]
    finally:
        await ws.close()


def tamper(key):
    i = len(key) - 10
    return key[:i] + ("A" if key[i] != "A" else "B") + key[i + 1:]


def bump_expiry(key):
    """v2.<expiry>.<kid>.<uid tag>.<sig>: a later expiry with the old signature."""
    head, exp, kid, tag, sig = key.split(".")
    return f"{head}.{int(exp) + 1000}.{kid}.{tag}.{sig}"


def http_refusal(service, uid, key):
    """A uid the handshake itself refuses: HTTP 400 with the JSON error, no upgrade."""
    from test_handshake import exchange, handshake, target

    status, _, body = exchange(service.http_port, handshake(target(uid, key), service.http_port))
    data = json.loads(body)
    assert status == 400 and is_error_body(data), (status, body)
    return data["contents"]


@pytest.mark.parametrize("case", ["no-uid", "empty-uid"])
def test_ws_refused_before_upgrade(service, case):
    reason = http_refusal(service, None if case == "no-uid" else "", service.access("x"))
    assert reason == "uid is missing", reason


@pytest.mark.parametrize("case", ["no-key", "garbage-key", "tampered-sig",
                                  "tampered-expiry", "other-uid", "empty-key"])
def test_ws_refused(service, case):
    uid = f"refused-{case}"
    good = service.access(uid)
    url = {
        "no-key": service.ws_url(uid, None),
        "garbage-key": service.ws_url(uid, "garbage"),
        "tampered-sig": service.ws_url(uid, tamper(good)),
        "tampered-expiry": service.ws_url(uid, bump_expiry(good)),
        "other-uid": service.ws_url(uid, service.access("someone-else")),
        "empty-key": service.ws_url(uid, ""),
    }[case]
    reason = run(expect_refused(url))
    if case in ("no-key", "empty-key"):
        assert "access_key" in reason and "missing" in reason, reason
    if case in ("tampered-sig", "tampered-expiry"):
        assert reason == "access_key has a bad signature", reason
    if case == "other-uid":
        assert reason == "access_key was issued for another uid", reason
    # Never registered: pushes to the uid find nobody.
    st, _, data = service.push(uid, "t", 1)
    assert st == 404 and data == OFFLINE
    # The good key for the same uid works (the refusal was about the key).
    async def good_conn():
        ws = await service.connect(uid, good)
        try:
            st, _, data = await asyncio.to_thread(push_until_delivered, service, uid, "ok", 1)
            assert data == SUCCESS_1
        finally:
            await ws.close()
    run(good_conn())


async def try_key(svc, uid, key, timeout=10):
    """Opens /ws with the key: ("refused", reason) when the daemon answers with its
    error frame, ("accepted", None) once a push reaches the connection (then closed
    again, and waited for until the uid is offline)."""
    ws = await websockets.connect(svc.ws_url(uid, key), ping_interval=None)
    try:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 0.05))
                assert msg["topic"] == "error", msg
                return "refused", msg["contents"]
            except asyncio.TimeoutError:
                pass
            st, _, data = await asyncio.to_thread(svc.push, uid, "_probe", None)
            if st == 200:
                await ws.close()
                st, data = await asyncio.to_thread(poll_status, svc, uid, 404, 10)
                assert st == 404, (st, data)
                return "accepted", None
            assert st == 404, (st, data)
        raise AssertionError("neither refused nor accepted")
    finally:
        await ws.close()


def test_ws_refused_expired_key(make_service):
    ttl = 3
    svc = make_service(access_key_ttl=ttl)
    key = svc.access("expiring")
    issued = time.monotonic()
    # Good for ttl seconds on a whole-second clock, so for at least ttl - 1: taken
    # right away, then tried until refused, which must come within ttl + 1 s of
    # its issue (plus scheduling slack).
    assert run(try_key(svc, "expiring", key)) == ("accepted", None)
    assert time.monotonic() - issued < ttl - 1, "too slow to test the fresh key"
    while True:
        outcome, reason = run(try_key(svc, "expiring", key))
        if outcome == "refused":
            break
        assert time.monotonic() - issued < ttl + 1 + 5, "key still accepted past its ttl"
    assert "expire" in reason, reason
    reason = run(expect_refused(svc.ws_url("expiring", key)))
    assert "expire" in reason, reason
    st, _, data = svc.push("expiring", "t", 1)
    assert st == 404 and data == OFFLINE
    # A fresh key still works on this instance.
    async def fresh():
        ws = await svc.connect("expiring")
        try:
            st, _, data = await asyncio.to_thread(push_until_delivered, svc, "expiring", "f", 1)
            assert data == SUCCESS_1
        finally:
            await ws.close()
    run(fresh())


def test_ws_refused_uid_too_long(service):
    assert http_refusal(service, "u" * 257, "v2.1.x") == "uid is too long"


def test_ws_wrong_path_not_upgraded(service):
    async def go():
        with pytest.raises((websockets.InvalidStatusCode, websockets.InvalidHandshake,
                            websockets.ConnectionClosed)):
            ws = await websockets.connect(
                service.ws_url("x", service.access("x"), path="/wsx"), ping_interval=None,
                open_timeout=5)
            await ws.close()
    run(go())


@pytest.mark.parametrize("raw_uid", ["a+b", "a%20b", "a%2Bb", "%E5%BC%A0%E4%B8%89", "a%zzb",
                                     "ab%4", "x%3Dy%26z"])
def test_uid_same_on_access_ws_and_push(service, raw_uid):
    """The same query-string uid, however it is encoded, names the same subscriber on
    /access, /ws and /push (all three decode it the same way)."""
    st, _, data = service.request("GET", "/access", f"uid={raw_uid}&password={service.password}")
    if raw_uid in ("a%zzb", "ab%4") and service.web in ("apache", "nginx"):
        # A bad %-escape: Apache and nginx pass it on and every endpoint refuses it. (lighttpd
        # normalises it to %25, a literal '%': a valid uid, checked below.)
        assert st == 400 and data["contents"] == "uid is badly encoded", (st, data)
        st, _, data = service.request("POST", "/push", f"uid={raw_uid}&password={service.password}",
                                      body={"topic": "t", "contents": 1},
                                      headers={"Content-Type": "application/json"})
        assert st == 400 and data["contents"] == "uid is badly encoded", (st, data)
        # /ws: refused before any upgrade, like /access and /push.
        async def subscribe():
            ws = await websockets.connect(f"ws://127.0.0.1:{service.http_port}/ws?uid={raw_uid}"
                                          f"&access_key=v1.1.x", ping_interval=None,
                                          open_timeout=30)
            await ws.close()
        with pytest.raises(websockets.InvalidStatusCode) as refused:
            run(subscribe())
        assert refused.value.status_code == 400, refused.value
        return
    assert st == 200, (st, data)
    key = data["contents"]

    async def go():
        ws = await websockets.connect(
            f"ws://127.0.0.1:{service.http_port}/ws?uid={raw_uid}&access_key={key}",
            ping_interval=None)
        try:
            end = time.monotonic() + 5
            while True:
                st, _, data = await asyncio.to_thread(
                    service.request, "POST", "/push", f"uid={raw_uid}&password={service.password}",
                    body={"topic": "enc", "contents": raw_uid},
                    headers={"Content-Type": "application/json"})
                if st != 404 or time.monotonic() > end:
                    break
                await asyncio.sleep(0.02)
            assert st == 200 and data == SUCCESS_1, (st, data)
            msg = await recv_json(ws)
            assert msg["topic"] == "enc" and msg["contents"] == raw_uid
        finally:
            await ws.close()
    run(go())


def _body_of_size(size, filler):
    """A push body of exactly `size` bytes whose contents string repeats `filler`."""
    head, tail = b'{"topic":"fill","contents":"', b'"}'
    room = size - len(head) - len(tail)
    n = room // len(filler)
    return head + filler * n + b"x" * (room - n * len(filler)) + tail


@pytest.mark.parametrize("filler,char", [
    (b"x", "x"),
    ("张".encode(), "张"),
    ("😀".encode(), "😀"),
    (b"\\u0001", "\u0001"),
    (b'\\"', '"'),
    (b"\x7f", "\x7f"),
], ids=["ascii", "cjk", "emoji", "escaped-control", "escaped-quote", "raw-del"])
def test_body_at_max_message_bytes_is_delivered(service, filler, char):
    """Any valid body up to max_message_bytes (65536 by default) is accepted and
    delivered as the same value, whatever characters it holds."""
    body = _body_of_size(65536, filler)
    assert len(body) == 65536
    expect = json.loads(body)["contents"]
    assert expect.startswith(char * 10)

    async def go():
        ws = await service.connect("fill-" + filler.hex()[:8])
        try:
            st, _, data = await asyncio.to_thread(push_until_delivered, service,
                                                  "fill-" + filler.hex()[:8], body=body)
            assert st == 200 and data == SUCCESS_1, (st, data)
            msg = await recv_json(ws)
            assert msg["contents"] == expect
        finally:
            await ws.close()
    run(go())


def test_daemon_stop_closes_clients_going_away(make_service):
    """SIGTERM to ws-daemon: every connected client (several uids, several connections
    per uid) gets a Close 1001 (going away), and the daemon exits cleanly."""
    svc = make_service()

    async def go():
        conns = []
        try:
            for uid, n in (("goodbye", 3), ("farewell", 1), ("ciao", 2)):
                for _ in range(n):
                    conns.append(await svc.connect(uid))
                await asyncio.to_thread(svc.wait_online, uid, n)
            rc = await asyncio.to_thread(svc.stop_daemon)
            assert rc == 0, f"ws-daemon exit status {rc}"
            for ws in conns:
                try:
                    while True:
                        extra = json.loads(await asyncio.wait_for(ws.recv(), 5))
                        assert extra["topic"] == "_probe", extra
                except websockets.ConnectionClosed as e:
                    assert e.rcvd is not None and e.rcvd.code == 1001, e
        finally:
            for ws in conns:
                await ws.close()
    run(go())
    svc.start_daemon()
    assert_serving(svc)


@pytest.mark.parametrize("template", ["&uid={uid}&access_key={key}",
                                      "x=1&&uid={uid}&access_key={key}",
                                      "uid={uid}&&access_key={key}",
                                      "uid={uid}&access_key={key}&",
                                      "v=&uid={uid}&access_key={key}"],
                         ids=["leading-amp", "double-amp-before-uid", "double-amp-before-key",
                              "trailing-amp", "empty-value-first"])
def test_ws_query_with_empty_parameters(service, template):
    """/access and /push skip empty query parameters (a stray '&'); /ws must read the
    same query the same way."""
    uid = f"amp-{abs(hash(template)) % 10 ** 8}"
    key = service.access(uid)
    q = template.format(uid=uid, key=key)
    st, _, data = service.request("GET", "/access", q.replace(f"access_key={key}",
                                                               f"password={service.password}"))
    assert st == 200, ("/access refuses the query itself", st, data)

    async def go():
        ws = await websockets.connect(f"ws://127.0.0.1:{service.http_port}/ws?{q}",
                                      ping_interval=None)
        try:
            end = time.monotonic() + 3
            while True:
                st, _, data = await asyncio.to_thread(service.push, uid, "amp", 1)
                if st == 200 or time.monotonic() > end or not ws.open:
                    break
                await asyncio.sleep(0.02)
            if st != 200:
                try:
                    first = await asyncio.wait_for(ws.recv(), 1)
                except (asyncio.TimeoutError, websockets.ConnectionClosed) as e:
                    first = repr(e)
                raise AssertionError(f"/ws?{q.replace(key, 'KEY')} not subscribed; "
                                     f"the socket got {first}")
            assert (await recv_json(ws))["topic"] == "amp"
        finally:
            await ws.close()
    run(go())


def test_chunked_push_body_accepted(service):
    """Some HTTP clients stream the body chunked; the web server hands push-api the
    whole body, so it is accepted like any other."""

    async def go():
        ws = await service.connect("chunky")
        try:
            await asyncio.to_thread(service.wait_online, "chunky")
            body = '{"topic":"chunked","contents":"分块"}'.encode()

            def send():
                s = socket.create_connection(("127.0.0.1", service.http_port), timeout=10)
                try:
                    s.sendall((f"POST /push?uid=chunky&password={service.password} HTTP/1.1\r\n"
                               "Host: x\r\nContent-Type: application/json\r\n"
                               "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
                              + b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (10, body[:10],
                                                                       len(body) - 10, body[10:]))
                    raw = b""
                    while True:
                        chunk = s.recv(65536)
                        if not chunk:
                            return raw
                        raw += chunk
                finally:
                    s.close()

            raw = await asyncio.to_thread(send)
            assert raw.startswith(b"HTTP/1.1 200"), raw[:200]
            assert json.loads(split_response(raw)[1]) == SUCCESS_1
            msg = await recv_user(ws)
            assert msg["topic"] == "chunked" and msg["contents"] == "分块"
        finally:
            await ws.close()
    run(go())


def test_key_from_another_deployment_refused(make_service):
    """Keys are signed with this deployment's secret: another password, another key space."""
    a = make_service(password="first-password")
    b = make_service(password="second-password")
    reason = run(expect_refused(b.ws_url("shared-uid", a.access("shared-uid"))))
    assert "access_key" in reason
    st, _, data = b.push("shared-uid", "t", 1)
    assert st == 404 and data == OFFLINE
