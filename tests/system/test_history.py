# SPDX-License-Identifier: MIT
"""History, resume, offline delivery and acknowledgements, end to end: real daemon
(several workers), real web server, real WebSocket clients. A client that gives no
position gets the wave-1 stream (the contract suite checks that part unchanged)."""
import asyncio
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import urllib.parse

import pytest
import websockets

from conftest import WEB_SERVERS, Service, recv_json, run, wait_until
from test_batch import batch
from test_workers import shard, worker_pid

SHARED = {
    "workers": 2,
    "history_size": 5,
    "history_ttl": 300,
    "offline_messages": True,
    "push_timeout_ms": 1500,
    "fcgi_procs": 3,
    "ack_waiters_max": 2,
}


@pytest.fixture(scope="module", params=WEB_SERVERS)
def hist(request):
    svc = Service(tempfile.mkdtemp(prefix="push-hist."), request.param, **SHARED)
    svc.start()
    yield svc
    svc.stop()
    shutil.rmtree(svc.dir, ignore_errors=True)


async def connect_at(svc, uid, key=None, **params):
    """A WebSocket of uid with the resume parameters given (since, epoch)."""
    key = key or await asyncio.to_thread(svc.access, uid)
    url = svc.ws_url(uid, key)
    if params:
        url += "&" + urllib.parse.urlencode(params)
    return await websockets.connect(url, max_size=None, ping_interval=None)


async def position(ws):
    msg = await recv_json(ws)
    assert msg.get("control") == "position" and "topic" not in msg, msg
    assert set(msg) == {"control", "epoch", "last", "acked", "recovered", "first"}, msg
    assert re.fullmatch(r"[0-9a-f]{16}", msg["epoch"]), msg
    return msg


async def numbers(ws, n):
    got = [await recv_json(ws) for _ in range(n)]
    assert all("control" not in m for m in got), got
    return [m["number"] for m in got], [m["contents"] for m in got]


async def quiet(ws, seconds=0.3):
    """Nothing more arrives within `seconds`."""
    try:
        extra = await asyncio.wait_for(ws.recv(), seconds)
    except asyncio.TimeoutError:
        return
    raise AssertionError(f"unexpected frame {extra}")


def push(svc, uid, contents, **q):
    """A push with extra query parameters (e.g. ack=1)."""
    query = {"uid": uid, "password": svc.password, **q}
    return svc.request("POST", "/push", query, body={"topic": "t", "contents": contents},
                       headers={"Content-Type": "application/json"})


def push_ok(svc, uid, contents, **q):
    st, _, data = push(svc, uid, contents, **q)
    assert st in (200, 202), (st, data)
    return data


# -- resume -------------------------------------------------------------------

def test_fresh_client_learns_position_without_replay(hist):
    async def go():
        a = await connect_at(hist, "h-fresh")
        for i in range(3):
            await asyncio.to_thread(push_ok, hist, "h-fresh", i)
        assert (await numbers(a, 3))[0] == [1, 2, 3]
        b = await connect_at(hist, "h-fresh", since="now")
        p = await position(b)
        assert (p["last"], p["acked"], p["recovered"], p["first"]) == (3, 0, True, 4), p
        await quiet(b)
        await asyncio.to_thread(push_ok, hist, "h-fresh", "live")
        assert await numbers(b, 1) == ([4], ["live"])
        for ws in (a, b):
            await ws.close()
    run(go())


def test_reconnect_gets_exactly_the_missed_then_live(hist):
    """Tab B stays; tab A drops, misses 3 pushes, comes back with its position."""
    async def go():
        b = await connect_at(hist, "h-tabs")
        a = await connect_at(hist, "h-tabs", since="now")
        epoch = (await position(a))["epoch"]
        for i in range(2):
            await asyncio.to_thread(push_ok, hist, "h-tabs", f"seen{i}")
        nums, _ = await numbers(a, 2)
        await a.close()
        for i in range(3):
            data = await asyncio.to_thread(push_ok, hist, "h-tabs", f"missed{i}")
            assert data["number"] == 1, data  # only tab B
        a = await connect_at(hist, "h-tabs", since=nums[-1], epoch=epoch)
        p = await position(a)
        assert (p["epoch"], p["recovered"], p["first"], p["last"]) == (epoch, True, 3, 5), p
        assert await numbers(a, 3) == ([3, 4, 5], ["missed0", "missed1", "missed2"])
        await asyncio.to_thread(push_ok, hist, "h-tabs", "live")
        assert await numbers(a, 1) == ([6], ["live"])
        await quiet(a)
        assert (await numbers(b, 6))[0] == [1, 2, 3, 4, 5, 6]
        for ws in (a, b):
            await ws.close()
    run(go())


def test_pushes_racing_the_replay_no_duplicate_no_gap(make_service):
    """A pusher runs while the client reconnects again and again with its position:
    the numbers the client sees are 1..N, each once, in order. The history holds
    more than the pusher can send while the client is away."""
    hist = make_service(workers=2, history_size=1000)
    uid = "h-race"
    stop = threading.Event()
    sent = []

    def pusher():
        i = 0
        while not stop.is_set() and i < 400:
            st, _, data = push(hist, uid, i)
            if st in (200, 202):
                sent.append(i)
            i += 1

    async def go():
        ws = await connect_at(hist, uid, since="now")
        p = await position(ws)
        epoch, last = p["epoch"], p["last"]
        seen = []
        t = threading.Thread(target=pusher)
        t.start()
        try:
            for _ in range(8):
                end = time.monotonic() + 0.15
                while time.monotonic() < end:
                    try:
                        m = await recv_json(ws, 0.05)
                    except asyncio.TimeoutError:
                        continue
                    seen.append(m["number"])
                    last = m["number"]
                await ws.close()
                ws = await connect_at(hist, uid, since=last, epoch=epoch)
                p = await position(ws)
                assert p["epoch"] == epoch and p["recovered"], p
        finally:
            stop.set()
            await asyncio.to_thread(t.join)
        # Drain what is left.
        while True:
            try:
                seen.append((await recv_json(ws, 1.0))["number"])
            except asyncio.TimeoutError:
                break
        await ws.close()
        assert seen == list(range(1, len(seen) + 1)), seen
        assert len(seen) == len(sent), (len(seen), len(sent))
    run(go())


def test_position_older_than_the_window_is_reported(hist):
    async def go():
        ws = await connect_at(hist, "h-old", since="now")
        epoch = (await position(ws))["epoch"]
        await ws.close()
        for i in range(8):  # history_size 5: 1..3 are gone
            assert (await asyncio.to_thread(push_ok, hist, "h-old", i))["topic"] == "stored"
        ws = await connect_at(hist, "h-old", since=0, epoch=epoch)
        p = await position(ws)
        assert (p["recovered"], p["first"], p["last"]) == (False, 4, 8), p
        assert await numbers(ws, 5) == ([4, 5, 6, 7, 8], [3, 4, 5, 6, 7])
        await quiet(ws)
        await ws.close()
    run(go())


def test_unknown_epoch_is_reported_with_what_is_left(hist):
    async def go():
        ws = await connect_at(hist, "h-epoch")
        await asyncio.to_thread(push_ok, hist, "h-epoch", "x")
        await recv_json(ws)
        other = "0123456789abcdef"
        b = await connect_at(hist, "h-epoch", since=1, epoch=other)
        p = await position(b)
        assert p["epoch"] != other and not p["recovered"] and p["first"] == 1, p
        assert await numbers(b, 1) == ([1], ["x"])
        for w in (ws, b):
            await w.close()
    run(go())


def test_number_survives_the_last_tab_closing(hist):
    async def go():
        ws = await connect_at(hist, "h-keep")
        await asyncio.to_thread(push_ok, hist, "h-keep", "one")
        assert (await numbers(ws, 1))[0] == [1]
        await ws.close()
        await asyncio.sleep(0.2)
        ws = await connect_at(hist, "h-keep")  # a seed client: no position
        await asyncio.to_thread(wait_until, lambda: push(hist, "h-keep", "two")[0] == 200)
        m = await recv_json(ws)
        assert m["number"] >= 2 and set(m) == {"topic", "number", "contents"}, m
        await ws.close()
    run(go())


# -- offline delivery and acknowledgements -------------------------------------

def test_offline_push_is_stored_then_delivered_from_acked(hist):
    async def go():
        for i in range(2):
            st, _, data = await asyncio.to_thread(push, hist, "h-off", f"m{i}")
            assert st == 202, (st, data)
            assert data == {"topic": "stored", "number": 0,
                            "contents": "用户不在线，消息已保存", "seq": i + 1}, data
        ws = await connect_at(hist, "h-off", since="acked")
        p = await position(ws)
        assert (p["acked"], p["recovered"], p["first"], p["last"]) == (0, True, 1, 2), p
        assert await numbers(ws, 2) == ([1, 2], ["m0", "m1"])
        await ws.send(json.dumps({"ack": 1}))
        await ws.close()
        await asyncio.sleep(0.2)
        ws = await connect_at(hist, "h-off", since="acked")
        p = await position(ws)
        assert (p["acked"], p["first"]) == (1, 2), p
        assert await numbers(ws, 1) == ([2], ["m1"])
        await ws.close()
    run(go())


def test_ack_wait_answered_on_ack(hist):
    async def go():
        ws = await connect_at(hist, "h-ack", since="now")
        await position(ws)
        task = asyncio.create_task(asyncio.to_thread(push, hist, "h-ack", "please", ack=1))
        m = await recv_json(ws)
        t0 = time.monotonic()
        await ws.send(json.dumps({"ack": m["number"]}))
        st, _, data = await task
        assert time.monotonic() - t0 < 1.0, "answered when the ack came, not at the timeout"
        assert st == 200 and data == {"topic": "success", "number": 1, "contents": "推送成功",
                                      "seq": m["number"], "acked": True}, data
        await ws.close()
    run(go())


def test_ack_wait_answered_at_timeout(hist):
    async def go():
        ws = await connect_at(hist, "h-noack")
        t0 = time.monotonic()
        st, _, data = await asyncio.to_thread(push, hist, "h-noack", "ignored",
                                              ack="1")
        waited = time.monotonic() - t0
        assert st == 200 and data["acked"] is False and data["number"] == 1, data
        assert 1.4 <= waited < 4.0, waited  # push_timeout_ms 1500
        await ws.close()
    run(go())


def test_ack_in_body_and_bad_ack_frames(hist):
    """A client of the resume protocol is told what is wrong with its message; a
    wave-1 client's text is ignored (test_ws_hostile)."""
    async def go():
        ws = await connect_at(hist, "h-body", since="now")
        await position(ws)
        await ws.send("ping")  # a heartbeat: ignored, as in wave 1
        await ws.send('{"ack": "x"}')
        err = await recv_json(ws)
        assert err == {"control": "error", "reason": "ack must be a message number"}, err
        await ws.send('{"ack": 99}')
        err = await recv_json(ws)
        assert err["control"] == "error" and "not sent yet" in err["reason"], err
        await ws.send('{"topic": 1}')
        err = await recv_json(ws)
        assert err == {"control": "error",
                       "reason": 'unknown message; only {"ack":N} is understood'}, err
        task = asyncio.create_task(asyncio.to_thread(
            hist.push, "h-body", body={"topic": "t", "contents": 1, "ack": True}))
        m = await recv_json(ws)
        await ws.send(json.dumps({"ack": m["number"]}))
        st, _, data = await task
        assert st == 200 and data["acked"] is True, data
        await ws.close()
    run(go())


def test_ack_waiters_are_bounded_others_still_push(hist):
    """ack_waiters_max 2 counts for the whole daemon, whichever worker owns the uid:
    one push waits on each worker's uid, the next one is refused at once (429), and
    plain pushes are not held up."""
    uids = [next(f"h-busy{i}" for i in range(100) if shard(f"h-busy{i}", 2) == w)
            for w in (0, 1)]

    async def go():
        tabs = [await connect_at(hist, u) for u in uids]
        waiting = [asyncio.create_task(asyncio.to_thread(push, hist, u, "a", ack=1))
                   for u in uids]
        for ws in tabs:
            await recv_json(ws)
        t0 = time.monotonic()
        st, hdrs, data = await asyncio.to_thread(push, hist, uids[0], "b", ack=1)
        assert st == 429 and hdrs.get("retry-after") == "1", (st, data)
        assert data["topic"] == "error" and "acknowledgement" in data["contents"], data
        st, _, data = await asyncio.to_thread(push, hist, uids[1], "c")
        assert st == 200 and data["number"] == 1, data
        assert time.monotonic() - t0 < 1.0, "not held up by the waiting pushes"
        for task in waiting:
            st, _, data = await task
            assert st == 200 and data["acked"] is False, data
        for ws in tabs:
            await ws.close()
    run(go())


def test_batch_with_ack_and_stored_items(hist):
    async def go():
        ws = await connect_at(hist, "h-b-on")
        body = [{"uid": "h-b-on", "topic": "t", "contents": 1, "ack": True},
                {"uid": "h-b-off", "topic": "t", "contents": 2}]
        task = asyncio.create_task(asyncio.to_thread(batch, hist, body))
        m = await recv_json(ws)
        await ws.send(json.dumps({"ack": m["number"]}))
        st, _, data = await task
        assert st == 200, data
        on, off = data["contents"]
        assert on["topic"] == "success" and on["acked"] is True and on["seq"] == m["number"], on
        assert off["topic"] == "stored" and off["seq"] == 1, off
        assert data["number"] == 2, data
        await ws.close()
    run(go())


@pytest.mark.parametrize("query,reason", [
    ("since=3", "since needs epoch"),
    ("epoch=0123456789abcdef", "epoch needs since"),
    ("since=x&epoch=0123456789abcdef", "since must be a number, 'acked' or 'now'"),
    ("since=now&epoch=XYZ", "epoch must be 16 hex digits"),
    ("since=now&since=now", "since is given twice"),
])
def test_bad_position_parameters_are_400(hist, query, reason):
    key = hist.access("h-400")
    st, _, data = hist.request("GET", "/ws", f"uid=h-400&access_key={key}&{query}",
                               headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                        "Sec-WebSocket-Version": "13",
                                        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert st == 400 and data["contents"] == reason, (st, data)


# -- bounds ---------------------------------------------------------------------

def test_eviction_by_bytes_age_and_budget(make_service):
    svc = make_service(workers=1, history_size=100, history_bytes=2048, history_ttl=2,
                       history_memory=65536, offline_messages=True)

    async def go():
        # Bytes: ~600-byte frames, 2048 per uid: the three newest stay.
        for i in range(6):
            push_ok(svc, "b-bytes", "x" * 500 + str(i))
        ws = await connect_at(svc, "b-bytes", since="acked")
        p = await position(ws)
        assert not p["recovered"] and p["first"] == 4 and p["last"] == 6, p
        assert (await numbers(ws, 3))[0] == [4, 5, 6]
        await ws.close()
        # Age: history_ttl 2 s.
        push_ok(svc, "b-age", "old")
        await asyncio.sleep(3.2)
        ws = await connect_at(svc, "b-age", since="acked")
        p = await position(ws)
        # The stream ended with its last message: a new one, nothing to send.
        assert p["last"] == 0 and p["first"] == 1, p
        await quiet(ws)
        await ws.close()
        # Budget: 64 KiB for all uids; 200 uids with 1 KiB each: the oldest go first.
        for i in range(200):
            push_ok(svc, f"b-many-{i}", "y" * 1000)
        m = svc.metrics()
        assert m["push_history_bytes"] <= 65536, m["push_history_bytes"]
        assert m["push_history_evicted_total"] > 0
        ws = await connect_at(svc, "b-many-199", since="acked")
        assert (await position(ws))["last"] == 1
        assert (await numbers(ws, 1))[0] == [1]
        await ws.close()
        ws = await connect_at(svc, "b-many-0", since="acked")
        assert (await position(ws))["last"] == 0, "the oldest uid was evicted"
        await ws.close()
    run(go())


def test_flood_to_one_offline_uid_is_bounded(make_service):
    svc = make_service(workers=1, history_size=50, history_bytes=1 << 19,
                       offline_messages=True)
    body = [{"uid": "flooded", "topic": "t", "contents": "z" * 2000}] * 25
    for _ in range(40):  # 1000 messages of 2 KB
        st, _, data = batch(svc, body)
        assert st == 200, data
    m = svc.metrics()
    assert m["push_history_messages"] == 50, m["push_history_messages"]
    assert m["push_history_bytes"] < 50 * 2100 + 4096, m["push_history_bytes"]


def test_history_off_is_wave_1(make_service):
    svc = make_service(workers=1, history_size=0)

    async def go():
        ws = await connect_at(svc, "off-1")
        st, _, data = await asyncio.to_thread(push, svc, "off-1", "a")
        m = await recv_json(ws)
        assert m["number"] == 1
        await ws.close()
        await asyncio.sleep(0.2)
        st, _, data = await asyncio.to_thread(push, svc, "off-1", "b")
        assert st == 404 and data["contents"] == "此用户不在线", data
        ws = await connect_at(svc, "off-1")
        await asyncio.to_thread(wait_until, lambda: push(svc, "off-1", "c")[0] == 200)
        assert (await recv_json(ws))["number"] == 1, "numbers restart without history"
        await ws.close()
    run(go())


def test_killed_worker_means_new_epoch(make_service):
    svc = make_service(workers=2, history_size=10)

    async def go():
        ws = await connect_at(svc, "k-uid", since="now")
        epoch = (await position(ws))["epoch"]
        push_ok(svc, "k-uid", "before")
        assert (await numbers(ws, 1))[0] == [1]
        pid = worker_pid(svc, shard("k-uid", 2))
        os.kill(pid, signal.SIGKILL)
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except (websockets.ConnectionClosed, asyncio.TimeoutError):
            pass
        await ws.close()

        async def back():
            try:
                return await connect_at(svc, "k-uid", since=1, epoch=epoch)
            except (OSError, websockets.InvalidStatusCode):
                return None
        end = time.monotonic() + 15
        ws = None
        while ws is None and time.monotonic() < end:
            ws = await back()
            if ws is None:
                await asyncio.sleep(0.2)
        assert ws is not None
        p = await position(ws)
        assert p["epoch"] != epoch and not p["recovered"] and p["last"] == 0, p
        await ws.close()
    run(go())

