# SPDX-License-Identifier: MIT
"""Hostile or broken WebSocket clients: garbage text, binary, huge or invalid frames,
clients that never read, abrupt disconnects. Each is dealt with (ignored or closed with
the right code) and everybody else keeps getting pushes."""
import asyncio
import json
import os
import socket
import struct
import time
import urllib.parse

import pytest
import websockets

from conftest import (RawWS, assert_serving, poll_status, push_until_delivered, recv_json,
                      recv_user, run, vm_rss_kb)

OFFLINE = {"topic": "error", "number": 0, "contents": "此用户不在线"}


def ws_target(svc, uid):
    return "/ws?" + urllib.parse.urlencode({"uid": uid, "access_key": svc.access(uid)})


async def expect_closed_with(ws, code, timeout=5.0):
    """The server closes ws with `code` (no data frame but probes before it)."""
    end = time.monotonic() + timeout
    try:
        while True:
            extra = await asyncio.wait_for(ws.recv(), max(0.01, end - time.monotonic()))
            if json.loads(extra).get("topic") != "_probe":
                break
    except websockets.ConnectionClosed as e:
        assert e.rcvd is not None, f"TCP closed without a Close frame ({e})"
        assert e.rcvd.code == code, f"close code {e.rcvd.code} ({e.rcvd.reason!r}), want {code}"
        return e.rcvd.reason
    raise AssertionError(f"not closed; got a frame {extra!r}")


async def bystander_ok(svc, ws, uid, tag):
    st, _, data = await asyncio.to_thread(svc.push, uid, "bystander", tag)
    assert st == 200 and data["number"] == 1, (st, data)
    msg = await recv_user(ws)
    assert msg["topic"] == "bystander" and msg["contents"] == tag, msg


def gone_within_1s(svc, uid):
    st, data = poll_status(svc, uid, 404, timeout=1.0)
    assert st == 404 and data == OFFLINE, f"{uid} still online 1 s after its connection closed"


# -- garbage from the client ------------------------------------------------------------

def test_garbage_text_is_ignored(service):
    async def go():
        ws = await service.connect("chatty")
        try:
            await asyncio.to_thread(service.wait_online, "chatty")
            for junk in ["hello", "", "{", '{"topic":"x","contents":1}', "ping", "\x00\x01",
                         "张三😀", "x" * 4096, "null", "[1,2,3]"]:
                await ws.send(junk)
            await ws.send(["frag", "mented ", "message"])  # fragmented text, 20 bytes
            for i in range(3):
                st, _, data = await asyncio.to_thread(service.push, "chatty", "still", i)
                assert st == 200 and data["number"] == 1, (st, data)
                msg = await recv_user(ws)
                assert msg["topic"] == "still" and msg["contents"] == i
            assert ws.open
        finally:
            await ws.close()
    run(go())


def test_ping_from_client_answered(service):
    async def go():
        ws = await service.connect("pinger")
        try:
            pong = await ws.ping(b"are you there")
            await asyncio.wait_for(pong, 5)
            st, _, _ = await asyncio.to_thread(push_until_delivered, service, "pinger", "p", 1)
            assert st == 200
            assert (await recv_json(ws))["topic"] == "p"
        finally:
            await ws.close()
    run(go())


@pytest.mark.parametrize("kind,payload,code", [
    ("binary", b"\x00\x01binary", 1003),
    ("empty-binary", b"", 1003),
    ("huge-text", "x" * 4097, 1009),
    ("very-huge-text", "y" * 200_000, 1009),
    ("huge-fragmented", ["z" * 3000, "z" * 3000], 1009),
], ids=["binary", "empty-binary", "huge-text", "very-huge-text", "huge-fragmented"])
def test_bad_frames_close_with_code(service, kind, payload, code):
    uid = f"hostile-{kind}"

    async def go():
        bystander = await service.connect("bystander-" + kind)
        ws = await service.connect(uid)
        try:
            await asyncio.to_thread(service.wait_online, uid)
            await asyncio.to_thread(service.wait_online, "bystander-" + kind)
            try:
                await ws.send(payload)
            except websockets.ConnectionClosed:
                pass
            await expect_closed_with(ws, code)
            await asyncio.to_thread(gone_within_1s, service, uid)
            await bystander_ok(service, bystander, "bystander-" + kind, kind)
        finally:
            await ws.close()
            await bystander.close()
    run(go())
    assert_serving(service)


@pytest.mark.parametrize("frames", [
    [(0x1, b"\xff\xfe", True)],
    [(0x1, b"ok \xc0\xaf", True)],                     # overlong
    [(0x1, b"\xed\xa0\x80", True)],                     # surrogate
    [(0x1, b"abc \xe5\xbc", False), (0x0, b"x", True)],  # split sequence broken
], ids=["ff-fe", "overlong", "surrogate", "fragment"])
def test_invalid_utf8_text_closes_1007(service, frames):
    uid = "bad-utf8-client"
    raw = RawWS(service.http_port, ws_target(service, uid))
    try:
        service.wait_online(uid)
        for op, payload, fin in frames:
            raw.send_frame(op, payload, fin=fin)
        data, code = raw.frames_until_close()
        # Only probe pushes may have arrived before the close.
        assert all(json.loads(p)["topic"] == "_probe" for _, p in data)
        assert code == 1007, f"close code {code}, want 1007"
    finally:
        raw.close()
    gone_within_1s(service, uid)
    assert_serving(service)


def test_valid_utf8_split_across_fragments_ok(service):
    """A character split between two fragments is valid: connection stays."""
    uid = "split-utf8"
    raw = RawWS(service.http_port, ws_target(service, uid))
    try:
        raw.send_frame(0x1, "张".encode()[:2], fin=False)
        raw.send_frame(0x0, "张".encode()[2:], fin=True)
        st, _, data = push_until_delivered(service, uid, "after-split", 1)
        assert st == 200, data
        op, payload = raw.recv_frame()
        assert op == 1 and json.loads(payload)["topic"] == "after-split"
    finally:
        raw.close()


@pytest.mark.parametrize("kind", ["reserved-opcode", "rsv-bits", "cont-first"])
def test_protocol_violations_close(service, kind):
    uid = f"proto-{kind}"
    raw = RawWS(service.http_port, ws_target(service, uid))
    try:
        service.wait_online(uid)
        if kind == "reserved-opcode":
            raw.send_frame(0x3, b"x")
        elif kind == "rsv-bits":
            raw.sock.sendall(b"\xf1\x80" + os.urandom(4))
        else:
            raw.send_frame(0x0, b"continuation without a start")
        _, code = raw.frames_until_close()
        assert code == 1002, code
    finally:
        raw.close()
    gone_within_1s(service, uid)
    assert_serving(service)


# -- clients that never read ---------------------------------------------------------------

def test_never_reading_client_is_dropped_memory_bounded(make_service, monkeypatch):
    # Under ASan, freed blocks sit in a quarantine that counts in RSS: keep it small.
    monkeypatch.setenv("ASAN_OPTIONS",
                       os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=4")
    from test_slow_consumers import CLOSE_SEND_SECS  # the daemon's bound, from its header
    svc = make_service(send_queue_max_messages=8, send_queue_max_bytes=65536,
                       history_size=0)  # a history must fit the queue (cfg.c)
    big = "x" * 30000
    rss = []

    async def round_(n):
        sloth_uid = f"sloth-{n}"
        raw = RawWS(svc.http_port, ws_target(svc, sloth_uid), rcvbuf=4096)
        bee = None
        try:
            bee = await svc.connect(f"bee-{n}")
            await asyncio.to_thread(svc.wait_online, sloth_uid)
            await asyncio.to_thread(svc.wait_online, f"bee-{n}")
            if not rss:
                rss.append(vm_rss_kb(svc.daemon.pid))
            dropped_at, sent_bee = None, []
            for i in range(1000):  # up to 30 MB for one client that reads nothing
                st, _, data = await asyncio.to_thread(svc.push, sloth_uid, "big", big)
                if st == 404:
                    dropped_at, t_drop = i, time.monotonic()
                    break
                assert st == 200 and data["number"] == 1, (st, data)
                if i % 10 == 0:
                    st, _, data = await asyncio.to_thread(svc.push, f"bee-{n}", "bee", i)
                    assert st == 200, data
                    sent_bee.append(i)
            assert dropped_at is not None, "a client that never reads was never dropped"
            # Everybody else was served throughout, in order.
            got = [(await recv_user(bee))["contents"] for _ in sent_bee]
            assert got == sent_bee
            await bystander_ok(svc, bee, f"bee-{n}", "after")
            # The sloth gets what was queued, complete and gap-free, then Close
            # 1013 if it reads within the daemon's bound for sending it; only a
            # later reader finds the connection reset instead.
            late = time.monotonic() - t_drop > CLOSE_SEND_SECS
            raw.sock.settimeout(10)
            frames, code = await asyncio.to_thread(raw.frames_until_close, 5000)
            nums = [json.loads(p)["number"] for op, p in frames]
            assert all(op == 1 for op, _ in frames)
            assert nums == list(range(1, len(nums) + 1)), "messages lost or reordered"
            assert code == 1013 or (late and code is None), \
                f"close code {code}, want 1013 (read {'after' if late else 'within'} the bound)"
        finally:
            raw.close()
            if bee is not None:
                await bee.close()
        rss.append(vm_rss_kb(svc.daemon.pid))

    for n in range(3):
        run(round_(n))
    growth = rss[-1] - rss[0]
    assert growth < 16 * 1024, f"ws-daemon VmRSS grew {growth} kB over 3 rounds: {rss}"
    assert rss[-1] - rss[1] < 8 * 1024, f"ws-daemon VmRSS keeps growing: {rss}"
    assert_serving(svc)


# -- abrupt disconnects ----------------------------------------------------------------------

def rst_close(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("how", ["rst", "fin-mid-frame", "rst-mid-frame", "fin-mid-handshake",
                                 "rst-with-unread-pushes", "fin-without-close"])
def test_abrupt_disconnect(service, how):
    uid = f"abrupt-{how}"

    async def go():
        bystander = await service.connect(f"calm-{how}")
        try:
            await asyncio.to_thread(service.wait_online, f"calm-{how}")
            if how == "fin-mid-handshake":
                raw = RawWS(service.http_port, ws_target(service, uid), read_response=False)
                raw.sock.close()
            else:
                raw = RawWS(service.http_port, ws_target(service, uid), rcvbuf=4096)
                try:
                    await asyncio.to_thread(service.wait_online, uid)
                    if how in ("fin-mid-frame", "rst-mid-frame"):
                        raw.sock.sendall(b"\x81\xfe\x10\x00" + b"\x01\x02")  # header, no body
                    if how == "rst-with-unread-pushes":
                        for i in range(20):
                            await asyncio.to_thread(service.push, uid, "unread", "u" * 5000)
                finally:
                    if how.startswith("rst"):
                        rst_close(raw.sock)
                    else:
                        raw.sock.close()
            await asyncio.to_thread(gone_within_1s, service, uid)
            await bystander_ok(service, bystander, f"calm-{how}", how)
        finally:
            await bystander.close()
    run(go())
    assert_serving(service)


def test_many_abrupt_disconnects(service):
    """50 clients vanish at once in assorted ways; the daemon forgets them all."""
    uids = [f"crowd-{i}" for i in range(50)]
    raws = []
    try:
        for uid in uids:
            raws.append(RawWS(service.http_port, ws_target(service, uid)))
        for uid in uids[::7]:
            service.wait_online(uid)
        for i, r in enumerate(raws):
            if i % 3 == 0:
                rst_close(r.sock)
            elif i % 3 == 1:
                r.sock.sendall(b"\x81\x85ab")  # half a frame header
                r.sock.close()
            else:
                r.sock.close()
    finally:
        for r in raws:
            r.close()
    end = time.monotonic() + 2.0
    online = list(uids)
    while online and time.monotonic() < end:
        online = [u for u in online if service.push(u, "_probe", None)[0] != 404]
    assert not online, f"still online after 2 s: {online}"
    assert_serving(service)


# -- idle clients ----------------------------------------------------------------------------

def test_client_that_never_answers_pings_is_dropped(make_service):
    """ping_interval 1, idle_timeout 2: a client that answers pings stays, one that
    never reads (so never answers) is hung up on after about idle_timeout."""
    svc = make_service(ping_interval=1, idle_timeout=2)

    async def go():
        alive = await svc.connect("answers-pings")
        try:
            mute = RawWS(svc.http_port, ws_target(svc, "never-pongs"))
        except BaseException:
            await alive.close()
            raise
        try:
            await asyncio.to_thread(svc.wait_online, "answers-pings")
            await asyncio.to_thread(svc.wait_online, "never-pongs")
            t0 = time.monotonic()
            st, data = await asyncio.to_thread(poll_status, svc, "never-pongs", 404, 2 + 3.0)
            assert st == 404, "a client that never answers pings was not dropped"
            # The pinged client outlives two idle timeouts.
            while time.monotonic() - t0 < 4.5:
                await asyncio.sleep(0.25)
                assert alive.open, f"answering client closed: {alive.close_code}"
            await bystander_ok(svc, alive, "answers-pings", "still here")
        finally:
            mute.close()
            await alive.close()
    run(go())


def test_slow_connection_dropped_sibling_keeps_everything(make_service):
    """Two connections of one uid, one never reads: N goes 2 -> 1 when the slow one is
    dropped, and the reading sibling gets every message, in order, without gaps."""
    svc = make_service(send_queue_max_messages=8, send_queue_max_bytes=1048576,
                       history_size=0)  # a history must fit the queue (cfg.c)
    big = "y" * 20000

    async def go():
        raw = RawWS(svc.http_port, ws_target(svc, "twins"), rcvbuf=4096)
        reader, task, got = None, None, []

        async def read():
            while True:
                msg = json.loads(await reader.recv())
                got.append(msg)

        try:
            reader = await svc.connect("twins")
            task = asyncio.create_task(read())
            await asyncio.to_thread(svc.wait_online, "twins", 2)
            counts = []
            for i in range(1000):
                st, _, data = await asyncio.to_thread(svc.push, "twins", "big", {"i": i,
                                                                                 "pad": big})
                assert st == 200, (st, data)
                counts.append(data["number"])
                if data["number"] == 1:
                    break
                # Pace on the reader: it is never behind, so only the sibling that
                # never reads can fill its queue, however busy the machine is.
                for _ in range(500):
                    if sum(1 for m in got if m["topic"] == "big") > i:
                        break
                    await asyncio.sleep(0.01)
            assert counts[-1] == 1, "the slow sibling was never dropped"
            assert set(counts[:-1]) == {2}
            for _ in range(200):
                if len([m for m in got if m["topic"] == "big"]) == len(counts):
                    break
                await asyncio.sleep(0.05)
            bigs = [m for m in got if m["topic"] == "big"]
            assert [m["contents"]["i"] for m in bigs] == list(range(len(counts)))
            nums = [m["number"] for m in got]
            assert nums == list(range(nums[0], nums[0] + len(nums))), "gap in numbers"
        finally:
            if task is not None:
                task.cancel()
            raw.close()
            if reader is not None:
                await reader.close()
    run(go())
    m = svc.metrics()
    assert m["push_slow_consumers_closed_total"] == 1, m
    assert m["push_slow_consumer_messages_dropped_total"] >= 1, m
    assert_serving(svc)
