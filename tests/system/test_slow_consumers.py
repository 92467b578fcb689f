# SPDX-License-Identifier: MIT
"""Delivery to clients that read slowly, not at all, or vanish: the Close 1013 of a
slow consumer, the bound on every closing connection, pings behind queued data,
keepalive after a stalled daemon, writes to a peer that is gone.

The clients under test connect to ws-daemon directly (ws_port): a proxy in between
buffers on its own and would blur what the daemon does and when. Pushes and
/metrics still go through the web server."""
import asyncio
import json
import os
import re
import signal
import socket
import struct
import time
import urllib.parse

import pytest

from conftest import TOP, RawWS, assert_serving, recv_user, run

# These clients talk to ws-daemon's own port (a proxy would buffer for them and
# hide what the daemon does); the web server only carries the pushes, so one web
# server is enough and halves the time these bounded waits cost.
pytestmark = pytest.mark.parametrize("web", ["lighttpd"])

TCP_ESTABLISHED, TCP_CLOSE = 1, 7
OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 1, 8, 9, 10


def daemon_constant(name):
    """A bound as ws-daemon defines it (one definition for the C and the tests)."""
    with open(os.path.join(TOP, "ws-daemon", "wsd_conn.h")) as f:
        return int(re.search(rf"#define {name} (\d+)", f.read()).group(1))


CLOSE_SEND_SECS = daemon_constant("WSD_CONN_CLOSE_SEND_SECS")
CLOSE_ACK_SECS = daemon_constant("WSD_CONN_CLOSE_ACK_SECS")
# The keepalive wheel has one-second slots: a bound runs out up to a second late.
EARLY, LATE = 1.5, 2.5


def target(svc, uid, key=None):
    return "/ws?" + urllib.parse.urlencode({"uid": uid,
                                            "access_key": key or svc.access(uid)})


def direct(svc, uid, **kw):
    return RawWS(svc.ws_port, target(svc, uid), **kw)


def tcp_state(sock):
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


def wait_state_left(sock, state, timeout):
    """Seconds until sock leaves `state` (read without consuming anything), or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if tcp_state(sock) != state:
            return time.monotonic() - t0
        time.sleep(0.02)
    return None


def numbers(frames):
    return [json.loads(p)["number"] for op, p in frames if op == OP_TEXT]


def gap_free(nums):
    return nums == list(range(nums[0], nums[0] + len(nums))) if nums else True


async def drop_slow_sibling(svc, uid, reader, got, pad):
    """Pushes to uid (a reading websockets client plus one that does not read) until
    the push answer counts one connection: the slow one was closed with 1013.
    Paced on the reader so only the sibling that does not read can fall behind.
    Returns the time of that answer and how many pushes it took."""
    for i in range(2000):
        st, _, data = await asyncio.to_thread(svc.push, uid, "big", {"i": i, "pad": pad})
        assert st == 200, (st, data)
        if data["number"] == 1:
            return time.monotonic(), i + 1
        assert data["number"] == 2, data
        for _ in range(500):
            if sum(1 for m in got if m["topic"] == "big") > i:
                break
            await asyncio.sleep(0.01)
    raise AssertionError("the connection that never reads was never closed")


async def with_reader(svc, uid, body):
    """Runs body(reader, got) with a websockets client of uid collecting messages."""
    reader = await svc.connect(uid)
    got = []

    async def collect():
        while True:
            got.append(json.loads(await reader.recv()))

    task = asyncio.create_task(collect())
    try:
        return await body(reader, got)
    finally:
        task.cancel()
        await reader.close()


def slow_service(make_service):
    # history_size 0: a history must fit the queue (cfg.c).
    return make_service(send_queue_max_messages=8, send_queue_max_bytes=1048576, history_size=0)


def test_slow_consumer_reading_in_time_gets_close_1013(make_service):
    """A client that stops reading is closed with 1013; when it reads again within
    the bound it gets everything queued before, gap-free, then exactly Close 1013.
    Its sibling on the same uid gets every message."""
    svc = slow_service(make_service)
    sloth = direct(svc, "twins", rcvbuf=4096)

    async def body(reader, got):
        await asyncio.to_thread(svc.wait_online, "twins", 2)
        t_drop, pushed = await drop_slow_sibling(svc, "twins", reader, got, "y" * 30000)
        sloth.sock.settimeout(CLOSE_SEND_SECS)
        frames, code = await asyncio.to_thread(sloth.frames_until_close, 5000)
        took = time.monotonic() - t_drop
        assert code == 1013, f"close code {code} after {took:.2f} s, want 1013"
        assert took < CLOSE_SEND_SECS, f"the Close took {took:.2f} s"
        nums = numbers(frames)
        assert nums and gap_free(nums), "messages lost or reordered before the Close"
        # The sibling: every push, in order, and it keeps receiving.
        for _ in range(200):
            if sum(1 for m in got if m["topic"] == "big") == pushed:
                break
            await asyncio.sleep(0.05)
        assert [m["contents"]["i"] for m in got if m["topic"] == "big"] == list(range(pushed))
        st, _, data = await asyncio.to_thread(svc.push, "twins", "after", 1)
        assert st == 200 and data["number"] == 1, (st, data)

    try:
        run(with_reader(svc, "twins", body))
    finally:
        sloth.close()
    m = svc.metrics()
    assert m["push_slow_consumers_closed_total"] == 1, m
    assert m["push_slow_consumer_messages_dropped_total"] >= 1, m
    assert_serving(svc)


def test_slow_consumer_never_reading_is_reset_within_bound(make_service):
    """A client that never reads cannot be sent its Close (its buffers are full and
    lws holds an unsent tail): it is reset within the bound, not kept."""
    svc = slow_service(make_service)
    sloth = direct(svc, "twins", rcvbuf=4096)

    async def body(reader, got):
        await asyncio.to_thread(svc.wait_online, "twins", 2)
        await drop_slow_sibling(svc, "twins", reader, got, "y" * 30000)
        took = await asyncio.to_thread(wait_state_left, sloth.sock, TCP_ESTABLISHED,
                                       CLOSE_SEND_SECS + LATE + 2)
        assert took is not None, "a closing connection that never reads was kept"
        assert CLOSE_SEND_SECS - EARLY <= took <= CLOSE_SEND_SECS + LATE, \
            f"reset after {took:.2f} s, bound {CLOSE_SEND_SECS} s"
        assert tcp_state(sloth.sock) == TCP_CLOSE, "ended without a reset"
        await bystander(svc, reader, got)

    try:
        run(with_reader(svc, "twins", body))
        # What it can still read is whole and in order, and no Close came.
        sloth.sock.settimeout(2)
        frames, code = sloth.frames_until_close(5000)
        assert gap_free(numbers(frames))
        assert code is None, f"got a Close {code} the daemon could not have sent"
    finally:
        sloth.close()
    assert svc.metrics()["push_slow_consumers_closed_total"] == 1
    assert_serving(svc)


async def bystander(svc, reader, got):
    n = len(got)
    st, _, data = await asyncio.to_thread(svc.push, "twins", "bystander", "ok")
    assert st == 200 and data["number"] == 1, (st, data)
    for _ in range(200):
        if any(m["topic"] == "bystander" for m in got[n:]):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the sibling stopped receiving")


def test_trickling_slow_consumer_is_reset_within_bound(make_service):
    """A client that reads a few hundred bytes a second and sends heartbeats keeps
    its connection alive as far as keepalive goes, but once closed with 1013 it is
    reset within the bound instead of holding its buffers for minutes."""
    svc = slow_service(make_service)
    sloth = direct(svc, "twins", rcvbuf=4096)

    def trickle(seconds):
        """Reads 256 bytes every 0.25 s, a heartbeat every 0.5 s; seconds until the
        connection ends, or None."""
        t0 = time.monotonic()
        sloth.sock.settimeout(0.25)
        beat = 0
        while time.monotonic() - t0 < seconds:
            try:
                if sloth.sock.recv(256) == b"":
                    return time.monotonic() - t0
            except socket.timeout:
                pass
            except ConnectionResetError:
                return time.monotonic() - t0
            if tcp_state(sloth.sock) != TCP_ESTABLISHED:
                return time.monotonic() - t0
            if time.monotonic() - t0 > beat * 0.5:
                beat += 1
                try:
                    sloth.send_frame(OP_TEXT, b"still here")
                except OSError:
                    return time.monotonic() - t0
            time.sleep(0.25)
        return None

    async def body(reader, got):
        await asyncio.to_thread(svc.wait_online, "twins", 2)
        await drop_slow_sibling(svc, "twins", reader, got, "y" * 30000)
        took = await asyncio.to_thread(trickle, CLOSE_SEND_SECS + LATE + 3)
        assert took is not None, "a trickling closing connection was kept"
        assert CLOSE_SEND_SECS - EARLY <= took <= CLOSE_SEND_SECS + LATE, \
            f"ended after {took:.2f} s, bound {CLOSE_SEND_SECS} s"
        await bystander(svc, reader, got)

    try:
        run(with_reader(svc, "twins", body))
    finally:
        sloth.close()
    assert svc.metrics()["push_slow_consumers_closed_total"] == 1
    assert_serving(svc)


def test_refused_client_that_never_reads_is_bounded(make_service):
    """The refusal of a bad key (error frame, Close 1008) to a client that never
    reads nor answers: reset once the answer's bound runs out."""
    svc = make_service()
    raw = RawWS(svc.ws_port, target(svc, "intruder", key="0" * 40), rcvbuf=4096)
    try:
        took = wait_state_left(raw.sock, TCP_ESTABLISHED, CLOSE_ACK_SECS + LATE + 2)
        assert took is not None, "a refused connection that never answers was kept"
        assert took <= CLOSE_ACK_SECS + LATE, f"ended after {took:.2f} s"
        raw.sock.settimeout(2)
        op, payload = raw.recv_frame()
        assert op == OP_TEXT and json.loads(payload)["topic"] == "error", (op, payload)
        op, payload = raw.recv_frame()
        assert op == OP_CLOSE and struct.unpack("!H", payload[:2])[0] == 1008, (op, payload)
    finally:
        raw.close()
    assert_serving(svc)


def test_ping_waits_for_unsent_tail_not_for_the_queue(make_service):
    """A ping that comes due while a client is behind goes out once what lws already
    holds has left (never inside a frame), ahead of our queue (so a slow but live
    reader can answer within the window); every message still arrives in order."""
    svc = make_service(ping_interval=2, idle_timeout=30, send_queue_max_messages=1000,
                       send_queue_max_bytes=16 * 1048576)
    slow = direct(svc, "behind", rcvbuf=4096)
    probe = None
    try:
        svc.wait_online("behind")
        # More than the kernel can hold for it (up to 4 MB on loopback): the rest
        # waits in lws's tail and our queue.
        total = 200
        for i in range(total):
            st, _, data = svc.push("behind", "bulk", {"i": i, "pad": "z" * 30000})
            assert st == 200 and data["number"] == 1, (st, data)
        # Heard from now: the next ping is due ping_interval later, queue full.
        slow.send_frame(OP_TEXT, b"hello")
        # A connection opened after that is due its first ping no earlier.
        probe = direct(svc, "probe")
        probe.sock.settimeout(10)
        while probe.recv_frame()[0] != OP_PING:
            pass
        slow.sock.settimeout(10)
        frames = []
        while sum(1 for op, p in frames if op == OP_TEXT and b'"bulk"' in p) < total:
            frames.append(slow.recv_frame())
        ops = [op for op, _ in frames]
        assert OP_PING in ops, "no ping came while the client was behind"
        last_ping = len(ops) - 1 - ops[::-1].index(OP_PING)
        before = sum(1 for op in ops[:last_ping] if op == OP_TEXT)
        after = sum(1 for op in ops[last_ping:] if op == OP_TEXT)
        assert before > 0, "the ping did not wait for what was in flight"
        assert after > 0, "the ping waited for the whole queue"
        bulk = [json.loads(p)["contents"]["i"] for op, p in frames
                if op == OP_TEXT and b'"bulk"' in p]
        assert bulk == list(range(total)), "messages lost or reordered around the ping"
        assert gap_free(numbers(frames))
        # Answered, the connection lives on and still gets pushes.
        slow.send_frame(OP_PONG, frames[last_ping][1])
        st, _, data = svc.push("behind", "after", 1)
        assert st == 200 and data["number"] == 1, (st, data)
        while True:
            op, p = slow.recv_frame()
            if op == OP_TEXT and json.loads(p)["topic"] == "after":
                break
    finally:
        slow.close()
        if probe is not None:
            probe.close()
    assert_serving(svc)


def test_keepalive_after_stalled_daemon(make_service):
    """The daemon stops for longer than idle_timeout (SIGSTOP to its whole group),
    then resumes: a client that answers pings is kept; one that does not gets a ping
    after the resume and is hung up a full answer window later, not in the same
    catch-up pass."""
    ping, idle = 3, 6
    svc = make_service(ping_interval=ping, idle_timeout=idle)
    mute = None

    async def go():
        nonlocal mute
        alive = await svc.connect("answers")  # websockets answers pings by itself
        try:
            mute = direct(svc, "mute")
            t_conn = time.monotonic()
            await asyncio.to_thread(svc.wait_online, "answers")
            await asyncio.to_thread(svc.wait_online, "mute")
            # Stopped before the first ping can be due (ping_interval - 1 s at least).
            svc.freeze_daemon(signal.SIGSTOP)
            assert time.monotonic() - t_conn < ping - 1.2, "too slow to stop in time"
            try:
                await asyncio.sleep(idle + 2)  # the stall under test, not a wait
            finally:
                svc.freeze_daemon(signal.SIGCONT)
            t_resume = time.monotonic()
            ping_at, end_at = await asyncio.to_thread(mute_until_end, mute, idle + 6)
            assert ping_at is not None, "the silent client was not pinged after the stall"
            assert end_at is not None, "the silent client was never hung up"
            window = idle - ping
            assert end_at - ping_at >= window - 1.2, \
                f"hung up {end_at - ping_at:.2f} s after its ping, window {window} s"
            assert end_at - t_resume <= window + LATE, f"hung up {end_at - t_resume:.2f} s late"
            # The answering client outlives two windows after the resume.
            while time.monotonic() - t_resume < 2 * window + 1:
                await asyncio.sleep(0.25)
                assert alive.open, f"the answering client was hung up: {alive.close_code}"
            st, _, data = await asyncio.to_thread(svc.push, "answers", "after", "stall")
            assert st == 200 and data["number"] == 1, (st, data)
            assert (await recv_user(alive))["contents"] == "stall"
        finally:
            svc.freeze_daemon(signal.SIGCONT)
            await alive.close()

    try:
        run(go())
    finally:
        if mute is not None:
            mute.close()
    assert_serving(svc)


def mute_until_end(raw, timeout):
    """Reads a client that never answers pings: (time of its first ping, time the
    connection ended), monotonic; None for what did not happen within timeout."""
    raw.sock.settimeout(timeout)
    ping_at = None
    try:
        while True:
            op, _ = raw.recv_frame()
            if op == OP_PING and ping_at is None:
                ping_at = time.monotonic()
            if op == OP_CLOSE:
                return ping_at, time.monotonic()
    except (EOFError, ConnectionResetError):
        return ping_at, time.monotonic()
    except socket.timeout:
        return ping_at, None


def test_push_to_vanished_peer(make_service):
    """Peers that vanish with a RST (one idle, one with unsent data lws holds) and
    are pushed to at once: the answer counts only the live connection, the live
    one gets every message, the daemon forgets the dead ones."""
    svc = make_service(send_queue_max_messages=1000, send_queue_max_bytes=16 * 1048576)

    async def go():
        live = await svc.connect("flaky")
        try:
            await asyncio.to_thread(svc.wait_online, "flaky")
            sent = 0
            for round_ in range(6):
                gone = direct(svc, "flaky", rcvbuf=4096)
                try:
                    await asyncio.to_thread(svc.wait_online, "flaky", 2)
                    if round_ % 2:  # leave lws with an unsent tail first
                        for _ in range(40):
                            st, _, data = await asyncio.to_thread(svc.push, "flaky", "fill",
                                                                  "f" * 30000)
                            assert st == 200 and data["number"] == 2, (st, data)
                            sent += 1
                finally:
                    gone.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                         struct.pack("ii", 1, 0))
                    gone.close()
                st, _, data = await asyncio.to_thread(svc.push, "flaky", "count", round_)
                assert st == 200 and data["number"] == 1, \
                    f"round {round_}: push counted a vanished peer: {data}"
                sent += 1
            got = 0
            while got < sent:
                msg = await recv_user(live, timeout=10)
                got += msg["topic"] in ("fill", "count")
        finally:
            await live.close()
        m = await asyncio.to_thread(svc.metrics)
        assert m["push_slow_consumers_closed_total"] == 0, m

    run(go())
    end = time.monotonic() + 2
    while svc.metrics()["push_connections"] != 0 and time.monotonic() < end:
        time.sleep(0.05)
    assert svc.metrics()["push_connections"] == 0, "the daemon still counts dead peers"
    assert_serving(svc)
