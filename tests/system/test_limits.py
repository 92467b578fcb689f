# SPDX-License-Identifier: MIT
"""Who may open a WebSocket and how many: allowed_origins refuses a handshake from a
page of another site with 403 before any upgrade (a request without Origin, from a
backend or a command-line client, is let through), on ws-daemon's own port and
through each web server (which must pass the Origin header on), and follows a reload;
max_connections refuses a worker's WebSocket past its ceiling with 503 before the
upgrade, as does the open-files limit when max_connections is 0."""
import asyncio
import json
import os
import re
import resource
import subprocess
import tempfile

import pytest
import websockets

from conftest import (BIN, is_error_body, push_until_delivered, raw_exchange, recv_json,
                      response_complete, run, split_response, wait_until)
from test_handshake import handshake, target
from test_reload import reload, worker_pid

APP = "https://app.example"
VIA = ["direct", "web"]
ORIGIN_REFUSED = "origin not allowed"
FULL = "this server is at its connection limit"


def port_of(svc, via):
    return svc.ws_port if via == "direct" else svc.http_port


def answer(port, uid, key, origin=None):
    """(status, JSON body or None for 101) of a handshake with a valid key and this
    Origin (None: no Origin header at all)."""
    extra = [("Origin", origin)] if origin is not None else []

    def done(raw):
        return (raw.startswith(b"HTTP/1.1 101") and b"\r\n\r\n" in raw) or response_complete(raw)

    raw = raw_exchange(port, handshake(target(uid, key), port, extra=extra), until=done,
                       timeout=5)
    assert raw, "no answer"
    status, body = split_response(raw)
    if status == 101:
        return status, None
    data = json.loads(body)
    assert is_error_body(data), data
    return status, data


def refused_total(svc):
    return svc.metrics().get("push_ws_handshake_refused_total", 0)


def applied(svc, **changes):
    """A reload every worker has taken up (each logs it): after it, any worker that
    accepts the next handshake checks it against the new values."""
    def count():
        return len(re.findall(r"worker \d+: configuration \S+ applied",
                              svc.read_log(svc.daemon_log)))
    before = count()
    assert reload(svc, **changes)
    assert wait_until(lambda: count() >= before + svc.workers, 10)


async def delivered_through(svc, uid, origin):
    """A browser-like client from `origin` connects and receives a push."""
    ws = await websockets.connect(svc.ws_url(uid, svc.access(uid)), origin=origin,
                                  ping_interval=None)
    try:
        st, _, data = await asyncio.to_thread(push_until_delivered, svc, uid, "t", "hi")
        assert st == 200, (st, data)
        assert (await recv_json(ws))["contents"] == "hi"
    finally:
        await ws.close()


# -- allowed_origins -------------------------------------------------------------

@pytest.mark.parametrize("via", VIA)
def test_listed_origins_open_in_any_case(make_service, via):
    # conftest writes a Python list of plain strings as its repr: a YAML flow sequence.
    svc = make_service(allowed_origins=[APP, "http://localhost:8080"])
    port = port_of(svc, via)
    key = svc.access("u1")
    for origin in (APP, "HTTPS://App.EXAMPLE", "http://localhost:8080", None):
        assert answer(port, "u1", key, origin) == (101, None), origin
    asyncio.run(delivered_through(svc, "u2", APP))


@pytest.mark.parametrize("via", VIA)
def test_other_origins_get_403_before_upgrade(make_service, via):
    svc = make_service(allowed_origins=[APP])
    port = port_of(svc, via)
    key = svc.access("u1")
    before = refused_total(svc)
    # Another site, another scheme, a default port written out, a look-alike host,
    # a file:// page or sandboxed frame, and an empty Origin: none is APP. (lighttpd
    # drops a header with an empty value; no browser sends one.)
    others = ["https://evil.example", "http://app.example", "https://app.example:443",
              "https://app.example.evil.example", "null"] + ([""] if via == "direct" else [])
    for origin in others:
        assert answer(port, "u1", key, origin) == (403, {
            "topic": "error", "number": 0, "contents": ORIGIN_REFUSED}), origin
    # Counted once each, and logged with the client and the Origin it came from
    # (so a web server stripping Origin would show here as a 101).
    assert wait_until(lambda: refused_total(svc) == before + len(others), 5), \
        (refused_total(svc), before)
    pat = re.compile(r"refused a WebSocket handshake from 127\.0\.0\.1:\d+[^:]*: "
                     r"403 origin not allowed \(Origin https://evil\.example\)")
    assert wait_until(lambda: pat.search(svc.read_log(svc.daemon_log)), 5), \
        svc.read_log(svc.daemon_log)[-2000:]


def test_no_list_allows_any_origin(make_service):
    svc = make_service()
    key = svc.access("u1")
    for port in (svc.ws_port, svc.http_port):
        for origin in ("https://evil.example", "null", None):
            assert answer(port, "u1", key, origin) == (101, None), (port, origin)
    assert svc.conf_value("allowed_origins") == ""


def test_null_only_when_listed_and_reload_takes_effect(make_service):
    svc = make_service(allowed_origins=[APP])
    assert svc.conf_value("allowed_origins") == APP
    key = svc.access("u1")

    def status(origin):
        return answer(svc.http_port, "u1", key, origin)[0]

    assert status("null") == 403
    applied(svc, allowed_origins=[APP, "null"])
    assert status("null") == 101
    assert svc.conf_value("allowed_origins") == APP + "\nnull"  # one a line

    async def kept_then_refused():
        # A socket already open stays open when the list stops naming its origin:
        # the list is checked at the handshake only.
        ws = await websockets.connect(svc.ws_url("u2", svc.access("u2")), origin=APP,
                                      ping_interval=None)
        try:
            await asyncio.to_thread(applied, svc, allowed_origins="https://other.example")
            assert status(APP) == 403
            assert status("https://other.example") == 101
            assert status("null") == 403
            st, _, data = await asyncio.to_thread(push_until_delivered, svc, "u2", "t", "still")
            assert st == 200, (st, data)
            assert (await recv_json(ws))["contents"] == "still"
        finally:
            await ws.close()

    asyncio.run(kept_then_refused())
    # A list that does not load changes nothing; no list again allows any origin.
    assert not reload(svc, allowed_origins=["https://other.example/"])
    assert "'allowed_origins' item 1: 'https://other.example/' is not an origin" in \
        svc.read_log(svc.daemon_log)
    assert status(APP) == 403
    applied(svc, allowed_origins=None)
    assert status("https://evil.example") == 101


def test_bad_origin_stops_start_with_file_and_line():
    d = tempfile.mkdtemp(prefix="push-limits.")
    conf = os.path.join(d, "conf.yaml")
    with open(conf, "w") as f:
        f.write("password: pw\nallowed_origins:\n  - https://app.example\n"
                "  - https://app.example/\n")
    try:
        r = subprocess.run([os.path.join(BIN, "ws-daemon"), "-c", conf, "-t"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0
        assert f"{conf}:4: 'allowed_origins' item 2: 'https://app.example/' is not an origin " \
               "(scheme://host[:port], no path)" in r.stderr, r.stderr
    finally:
        os.unlink(conf)
        os.rmdir(d)


# -- max_connections -------------------------------------------------------------

async def open_ws(svc, uid, via):
    return await websockets.connect(svc.ws_url(uid, svc.access(uid), direct=via == "direct"),
                                    ping_interval=None)


async def open_when_room(svc, uid, via, timeout=10.0):
    """Opens a WebSocket once the worker has counted a closed one out."""
    end = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await open_ws(svc, uid, via)
        except websockets.exceptions.InvalidStatusCode as e:
            assert e.status_code == 503, e.status_code
            if asyncio.get_running_loop().time() > end:
                raise
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("via", VIA)
def test_worker_ceiling_503_before_upgrade(make_service, via):
    svc = make_service(workers=1, max_connections=3)
    port = port_of(svc, via)

    async def go():
        open_ = [await open_ws(svc, f"u{i}", via) for i in range(3)]
        try:
            before = refused_total(svc)
            key = svc.access("u3")
            full = await asyncio.to_thread(answer, port, "u3", key)
            assert full == (503, {"topic": "error", "number": 0, "contents": FULL}), full
            assert await asyncio.to_thread(
                wait_until, lambda: refused_total(svc) == before + 1, 5)
            assert "is at its connection limit (3 WebSockets" in svc.read_log(svc.daemon_log)
            # One leaves: the next one is served, and the worker is full again.
            await open_.pop(0).close()
            open_.append(await open_when_room(svc, "u3", via))
            assert (await asyncio.to_thread(answer, port, "u4", svc.access("u4")))[0] == 503
            # A reload raises the ceiling for the next handshake.
            await asyncio.to_thread(applied, svc, max_connections=4)
            open_.append(await open_when_room(svc, "u4", via))
            st, _, data = await asyncio.to_thread(push_until_delivered, svc, "u4", "t", "in")
            assert st == 200, (st, data)
            assert (await recv_json(open_[-1]))["contents"] == "in"
        finally:
            for ws in open_:
                await ws.close()

    asyncio.run(go())


def test_open_files_limit_is_the_default_ceiling(make_service):
    """max_connections 0: the worker stops 64 descriptors short of its open-files
    limit (lowered here on the running worker) and answers 503, not EMFILE."""
    svc = make_service(workers=1)
    pid = worker_pid(svc, 0)
    _, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (64 + 5, hard))

    async def go():
        open_ = [await open_ws(svc, f"f{i}", "direct") for i in range(5)]
        try:
            full = await asyncio.to_thread(answer, svc.ws_port, "f5", svc.access("f5"))
            assert full[0] == 503 and full[1]["contents"] == FULL, full
        finally:
            for ws in open_:
                await ws.close()
        # Room again once they are gone.
        ws = await open_when_room(svc, "f6", "direct")
        await ws.close()

    asyncio.run(go())


# -- connections per uid ----------------------------------------------------------

def test_connections_per_uid_newest_is_refused(make_service):
    """max_connections_per_uid 2: a third tab of the uid gets an error frame and
    Close 1013 (try again later: not a key problem); the two open tabs keep working,
    and once one closes a new tab is accepted."""
    svc = make_service(workers=2, max_connections_per_uid=2)

    async def go():
        tabs = [await svc.connect("capped"), await svc.connect("capped")]
        third = await svc.connect("capped")
        err = await recv_json(third)
        assert err == {"topic": "error", "number": 0,
                       "contents": "too many connections for this uid"}, err
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(third.recv(), 5)
        assert closed.value.code == 1013, closed.value
        st, _, data = await asyncio.to_thread(push_until_delivered, svc, "capped", "t", 1)
        assert st == 200 and data["number"] == 2, data
        for ws in tabs:
            assert (await recv_json(ws))["contents"] == 1
        other = await svc.connect("another-uid")  # the limit is per uid
        await tabs[0].close()
        await asyncio.sleep(0.2)
        tabs[0] = await svc.connect("capped")
        st, _, data = await asyncio.to_thread(svc.push, "capped", "t", 2)
        assert st == 200 and data["number"] == 2, data
        for ws in tabs + [other]:
            await ws.close()
    run(go())
