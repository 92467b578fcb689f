# SPDX-License-Identifier: MIT
"""Bad input on /access and /push: a JSON error with a fitting status, and the
service keeps serving afterwards (each test ends with the full normal flow)."""
import asyncio
import json
import signal
import socket
import time

import pytest

from conftest import (raw_exchange, split_response, assert_serving, is_error_body, push_until_delivered, recv_json,
                      recv_user, run)

PW = object()   # placeholders for the service's password in parametrised queries
PWX = object()  # the password with one byte more
PW_ = object()  # the password with one byte less


def qs(svc, query):
    subst = {id(PW): svc.password, id(PWX): svc.password + "x", id(PW_): svc.password[:-1]}
    return {k: subst.get(id(v), v) for k, v in query.items()}


def expect_error(resp, status):
    st, hdrs, data = resp
    assert st == status, (st, data)
    assert is_error_body(data), data
    assert hdrs.get("content-type", "").startswith("application/json"), hdrs
    return hdrs, data


# -- uid -------------------------------------------------------------------------

UID_CASES = [
    ("missing", "password=PW"),
    ("empty", "uid=&password=PW"),
    ("bare", "uid&password=PW"),
    ("too-long", "uid=" + "a" * 257 + "&password=PW"),
    ("too-long-utf8", "uid=" + "%E5%BC%A0" * 86 + "&password=PW"),  # 86 chars, 258 bytes
    ("surrogate-utf8", "uid=%ED%A0%80&password=PW"),
    ("truncated-utf8", "uid=%E5%BC&password=PW"),
]

# Control bytes and bytes that are not UTF-8: lighttpd itself looks at these.
UID_BYTE_CASES = [
    ("control-01", "uid=ab%01cd&password=PW"),
    ("control-1f", "uid=%1F&password=PW"),
    ("del-7f", "uid=ab%7F&password=PW"),
    ("newline", "uid=a%0Ab&password=PW"),
    ("nul", "uid=a%00b&password=PW"),
    ("bad-utf8", "uid=%FF%FE&password=PW"),
    ("overlong-utf8", "uid=%C0%AF&password=PW"),
]


def bad_uid_request(svc, endpoint, query):
    q = query.replace("PW", svc.password)
    if endpoint == "/push":
        return svc.request("POST", "/push", q, body={"topic": "t", "contents": 1},
                           headers={"Content-Type": "application/json"})
    return svc.request("GET", "/access", q)


@pytest.mark.parametrize("name,query", UID_CASES, ids=[c[0] for c in UID_CASES])
@pytest.mark.parametrize("endpoint", ["/push", "/access"])
def test_bad_uid_is_400(service, endpoint, name, query):
    expect_error(bad_uid_request(service, endpoint, query), 400)
    assert_serving(service)


@pytest.mark.parametrize("endpoint", ["/push", "/access"])
def test_uid_control_or_non_utf8_bytes_is_json_400(service, endpoint):
    """%01, %7F, %0A, %00, %FF, overlong UTF-8 in uid: 400 with the JSON error body."""
    answers = {name: bad_uid_request(service, endpoint, q) for name, q in UID_BYTE_CASES}
    statuses = {name: st for name, (st, _, _) in answers.items()}
    assert all(st == 400 for st in statuses.values()), statuses
    not_json = sorted(name for name, (_, _, data) in answers.items() if not is_error_body(data))
    assert not not_json, (f"400 without the JSON error body for {not_json}; e.g. "
                          f"{answers[not_json[0]][2][:200]!r}")
    assert_serving(service)


def test_uid_length_counts_bytes(make_service):
    svc = make_service(max_uid_bytes=8)
    expect_error(svc.request("GET", "/access", {"uid": "张三张", "password": svc.password}),
                 400)  # 9 bytes, 3 characters
    st, _, data = svc.request("GET", "/access", {"uid": "张三", "password": svc.password})
    assert st == 200, data
    assert_serving(svc, uid="8bytes!!")


# -- password ----------------------------------------------------------------------

@pytest.mark.parametrize("query,headers", [
    ({"uid": "u", "password": "wrong"}, {}),
    ({"uid": "u"}, {}),
    ({"uid": "u", "password": ""}, {}),
    ({"uid": "u", "password": PWX}, {}),
    ({"uid": "u", "password": PW_}, {}),
    ({"uid": "u"}, {"Authorization": "Bearer nope"}),
    ({"uid": "u"}, {"Authorization": "Bearer "}),
    ({"uid": "u"}, {"Authorization": "Basic dTpwdw=="}),
    ({"uid": "u", "password": "x" * 5000}, {}),
], ids=["wrong", "missing", "empty", "suffix", "prefix", "bearer-wrong", "bearer-empty", "basic",
        "very-long"])
@pytest.mark.parametrize("endpoint", ["/push", "/access"])
def test_bad_password_is_401(service, endpoint, query, headers):
    if endpoint == "/push":
        h = {"Content-Type": "application/json", **headers}
        resp = service.request("POST", "/push", qs(service, query),
                               body={"topic": "t", "contents": 1}, headers=h)
    else:
        resp = service.request("GET", "/access", qs(service, query), headers=headers)
    expect_error(resp, 401)
    assert_serving(service)


def test_wrong_password_does_not_deliver(service):
    async def go():
        ws = await service.connect("pw-victim")
        try:
            await asyncio.to_thread(service.wait_online, "pw-victim")
            st, _, _ = await asyncio.to_thread(service.push, "pw-victim", "evil", 1,
                                               password="wrong")
            assert st == 401
            st, _, _ = await asyncio.to_thread(service.push, "pw-victim", "good", 2)
            assert st == 200
            assert (await recv_user(ws))["topic"] == "good"
        finally:
            await ws.close()
    run(go())


# -- body ----------------------------------------------------------------------------

BODY_CASES = [
    ("not-json", b"hello"),
    ("empty", b""),
    ("truncated", b'{"topic":"t","contents":'),
    ("trailing-garbage", b'{"topic":"t","contents":1} x'),
    ("two-objects", b'{"topic":"t","contents":1}{"topic":"t","contents":2}'),
    ("array", b'[{"topic":"t","contents":1}]'),
    ("string", b'"topic"'),
    ("number", b"42"),
    ("null", b"null"),
    ("no-topic", b'{"contents":1}'),
    ("no-contents", b'{"topic":"t"}'),
    ("empty-object", b"{}"),
    ("topic-number", b'{"topic":1,"contents":1}'),
    ("topic-null", b'{"topic":null,"contents":1}'),
    ("topic-object", b'{"topic":{"a":1},"contents":1}'),
    ("topic-array", b'{"topic":["t"],"contents":1}'),
    ("bad-utf8-contents", b'{"topic":"t","contents":"\xff\xfe"}'),
    ("bad-utf8-topic", b'{"topic":"\xc3","contents":1}'),
    ("overlong-utf8", b'{"topic":"t","contents":"\xc0\xaf"}'),
    ("surrogate-utf8", b'{"topic":"t","contents":"\xed\xa0\x80"}'),
    ("bad-utf8-key", b'{"topic":"t","contents":{"\xff":1}}'),
    ("lone-surrogate-escape", b'{"topic":"t","contents":"\\ud800"}'),
    ("single-quotes", b"{'topic':'t','contents':1}"),
    ("nan", b'{"topic":"t","contents":NaN}'),
    ("big-int", b'{"topic":"t","contents":123456789012345678901234567890}'),
    ("big-int-nested", b'{"topic":"t","contents":{"a":[18446744073709551616]}}'),
]


@pytest.mark.parametrize("name,body", BODY_CASES, ids=[c[0] for c in BODY_CASES])
def test_bad_body_is_400(service, name, body):
    async def go():
        ws = await service.connect("body-victim")
        try:
            await asyncio.to_thread(service.wait_online, "body-victim")
            resp = await asyncio.to_thread(service.push, "body-victim", body=body)
            expect_error(resp, 400)
            # Nothing of the bad request reached the subscriber.
            st, _, _ = await asyncio.to_thread(service.push, "body-victim", "next", 1)
            assert st == 200
            assert (await recv_user(ws))["topic"] == "next"
        finally:
            await ws.close()
    run(go())
    assert_serving(service)


def test_bad_body_to_offline_uid_is_still_400(service):
    """Validation does not depend on the uid being online."""
    expect_error(service.push("offline-bad-body", body=b"not json"), 400)


def test_body_over_max_message_bytes_is_413(make_service):
    svc = make_service(max_message_bytes=1024)

    def body_of(size):
        head, tail = b'{"topic":"t","contents":"', b'"}'
        return head + b"x" * (size - len(head) - len(tail)) + tail

    async def go():
        ws = await svc.connect("big-body")
        try:
            # Exactly at the limit: accepted and delivered.
            st, _, data = await asyncio.to_thread(push_until_delivered, svc, "big-body",
                                                  body=body_of(1024))
            assert st == 200, data
            msg = await recv_json(ws)
            assert msg["contents"] == "x" * (1024 - 27)
            # One byte over: 413, nothing delivered.
            expect_error(await asyncio.to_thread(svc.push, "big-body", body=body_of(1025)), 413)
            st, _, _ = await asyncio.to_thread(svc.push, "big-body", "after", 1)
            assert st == 200
            assert (await recv_json(ws))["topic"] == "after"
        finally:
            await ws.close()
    run(go())
    assert_serving(svc)


def test_body_far_over_limit_is_json_413(make_service):
    """Well past max_message_bytes the answer must still be the service's JSON 413
    (not the web server's HTML page)."""
    svc = make_service(max_message_bytes=1024)
    big = b'{"topic":"t","contents":"' + b"x" * 300_000 + b'"}'
    # By hand: the server may answer and close before the whole body is sent.
    raw = raw_exchange(svc.http_port,
                       (f"POST /push?uid=huge-body&password={svc.password} HTTP/1.1\r\n"
                        f"Host: x\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(big)}\r\nConnection: close\r\n\r\n").encode()
                       + big)
    assert raw.startswith(b"HTTP/1.1 "), f"no response at all: {raw[:100]!r}"
    status, body = split_response(raw)
    try:
        data = json.loads(body)
    except ValueError:
        data = body
    assert status == 413, (status, data)
    assert is_error_body(data), f"413 without the JSON error body: {body[:200]!r}"
    assert_serving(svc)


def test_declared_length_longer_than_body(service):
    """A body shorter than its Content-Length: an error (or the connection dropped),
    never a stuck FastCGI worker."""
    s = socket.create_connection(("127.0.0.1", service.http_port), timeout=10)
    try:
        s.sendall((f"POST /push?uid=short&password={service.password} HTTP/1.1\r\n"
                   "Host: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"
                   "\r\n{\"topic\":").encode())
        s.shutdown(socket.SHUT_WR)
        try:
            s.recv(4096)
        except OSError:
            pass
    finally:
        s.close()
    # Both FastCGI workers must still answer (fcgi_procs = 2).
    for _ in range(4):
        assert_serving(service)


# -- method and Content-Type ------------------------------------------------------------

@pytest.mark.parametrize("method,path,allow", [
    ("GET", "/push", {"POST"}),
    ("HEAD", "/push", {"POST"}),
    ("PUT", "/push", {"POST"}),
    ("DELETE", "/push", {"POST"}),
    ("PATCH", "/push", {"POST"}),
    ("POST", "/access", {"GET", "HEAD"}),
    ("PUT", "/access", {"GET", "HEAD"}),
    ("DELETE", "/access", {"GET", "HEAD"}),
])
def test_wrong_method_is_405_with_allow(service, method, path, allow):
    body = b'{"topic":"t","contents":1}' if method in ("PUT", "PATCH", "POST") else None
    st, hdrs, data = service.request(method, path, {"uid": "m", "password": service.password},
                                     body=body, headers={"Content-Type": "application/json"})
    assert st == 405, (st, data)
    assert "allow" in hdrs, hdrs
    assert {m.strip() for m in hdrs["allow"].split(",")} == allow, hdrs["allow"]
    if method != "HEAD":
        assert is_error_body(data), data
    assert_serving(service)


@pytest.mark.parametrize("ctype", [
    None,
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/jsonx",
    "application/json-patch+json",
    "text/json",
    "",
])
def test_wrong_content_type_is_415(service, ctype):
    async def go():
        ws = await service.connect("ctype-victim")
        try:
            await asyncio.to_thread(service.wait_online, "ctype-victim")
            resp = await asyncio.to_thread(service.push, "ctype-victim", "bad-ct", 1,
                                           content_type=ctype)
            expect_error(resp, 415)
            st, _, _ = await asyncio.to_thread(service.push, "ctype-victim", "next", 1)
            assert st == 200
            assert (await recv_user(ws))["topic"] == "next"
        finally:
            await ws.close()
    run(go())


@pytest.mark.parametrize("ctype", [
    "application/json",
    "application/json;charset='utf-8'",
    "Application/JSON; charset=utf-8",
    "application/json; charset=UTF-8",
    "APPLICATION/JSON",
])
def test_json_content_type_variants_accepted(service, ctype):
    async def go():
        ws = await service.connect("ctype-ok")
        try:
            st, _, data = await asyncio.to_thread(push_until_delivered, service, "ctype-ok",
                                                  "ct", ctype, content_type=ctype)
            assert st == 200, data
            assert (await recv_json(ws))["contents"] == ctype
        finally:
            await ws.close()
    run(go())


def test_unknown_path_is_json_404(service):
    """README: every error is the JSON error shape, 404 for any other path."""
    expect_error(service.request("GET", "/nothing-here", {"uid": "u"}), 404)


# -- daemon down, stopped or frozen ---------------------------------------------------------

def timed_push(svc, uid):
    t0 = time.monotonic()
    resp = svc.push(uid, "t", 1)
    return resp, time.monotonic() - t0


def test_daemon_down_is_503_then_recovers(make_service):
    svc = make_service(push_timeout_ms=500)
    key = svc.access("phoenix")

    async def connect_and_push():
        ws = await svc.connect("phoenix", key)
        try:
            st, _, data = await asyncio.to_thread(push_until_delivered, svc, "phoenix",
                                                  "back", 1)
            assert st == 200, data
            assert (await recv_json(ws))["topic"] == "back"
        finally:
            await ws.close()

    run(connect_and_push())
    svc.stop_daemon()
    for _ in range(3):
        resp, took = timed_push(svc, "phoenix")
        expect_error(resp, 503)
        assert took < 0.5 + 3.0, f"503 took {took:.2f}s"  # push_timeout_ms + slack
    # /access does not need the daemon.
    assert svc.access("phoenix")
    svc.start_daemon()
    # The old key is still valid after a restart (stateless keys); the client reconnects.
    run(connect_and_push())
    assert_serving(svc)


def test_daemon_killed_is_503_then_recovers(make_service):
    """SIGKILL leaves the socket file behind: still 503 quickly, restart works."""
    svc = make_service(push_timeout_ms=500)
    svc.stop_daemon(sig=signal.SIGKILL)
    for _ in range(3):
        resp, took = timed_push(svc, "killed")
        expect_error(resp, 503)
        assert took < 0.5 + 3.0, f"503 took {took:.2f}s"  # push_timeout_ms + slack
    svc.start_daemon()
    assert_serving(svc)


def test_daemon_frozen_is_503_within_timeout(make_service):
    """A daemon that does not answer (SIGSTOP): 503 after about push_timeout_ms, no hang."""
    timeout_s = 0.3
    svc = make_service(push_timeout_ms=int(timeout_s * 1000))
    pid = svc.daemon.pid
    svc.freeze_daemon(signal.SIGSTOP)
    try:
        for _ in range(3):
            resp, took = timed_push(svc, "frozen")
            expect_error(resp, 503)
            assert took < timeout_s + 3.0, f"503 took {took:.2f}s"
            # The request's round trip contains push-api's whole wait.
            assert took >= timeout_s, "answered before push_timeout_ms without the daemon?"
    finally:
        svc.freeze_daemon(signal.SIGCONT)
    assert svc.daemon.pid == pid
    assert_serving(svc)


def test_absurdly_deep_body_is_400(service):
    """30,000 nested arrays: refused (400), no crash in the parser or serializer."""
    body = b'{"topic":"t","contents":' + b"[" * 30000 + b"]" * 30000 + b"}"
    expect_error(service.push("deep", body=body), 400)
    assert_serving(service)


def test_push_answered_503_is_never_delivered_late(make_service):
    """A 503 for a timeout means "not delivered": pushes that timed out while the
    daemon was frozen must not reach the client after it thaws (a retrying
    business server would otherwise cause duplicates)."""
    svc = make_service(push_timeout_ms=300)

    async def go():
        ws = await svc.connect("thaw")
        try:
            st, _, data = await asyncio.to_thread(push_until_delivered, svc, "thaw", "before", 0)
            assert (await recv_json(ws))["topic"] == "before"
            svc.freeze_daemon(signal.SIGSTOP)
            try:
                for i in range(3):
                    resp = await asyncio.to_thread(svc.push, "thaw", "late", i)
                    expect_error(resp, 503)
            finally:
                svc.freeze_daemon(signal.SIGCONT)
            st, _, data = await asyncio.to_thread(svc.push, "thaw", "after", 1)
            assert st == 200, data
            msg = await recv_json(ws)
            assert msg["topic"] == "after", f"a push answered 503 was delivered: {msg}"
            assert msg["number"] == 2, msg
        finally:
            await ws.close()
    asyncio.run(go())
