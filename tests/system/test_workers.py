# SPDX-License-Identifier: MIT
"""ws-daemon with several workers: a uid's connections all land in the worker that
owns it (one sequence of numbers), pushes and batches reach the right worker, a
datagram sent to another worker is refused, and a worker that dies is restarted
while the others keep serving. Also the helpers other tests use to reach one
worker: who owns a uid, a worker's pid, hand-made datagrams."""
import asyncio
import os
import signal
import socket
import struct
import subprocess
import time

from conftest import push_until_delivered, recv_json


def worker_pids(svc):
    out = subprocess.run(["pgrep", "-P", str(svc.daemon.pid)], capture_output=True, text=True)
    return sorted(int(p) for p in out.stdout.split())


def shard(uid, n):
    """The worker owning uid: req_uid_shard (FNV-1a 64 over the bytes, mod n)."""
    if n <= 1:
        return 0
    h = 1469598103934665603
    for b in uid.encode():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h % n


def uids_of_workers(n, per, prefix):
    """{worker: [per uids it owns]}."""
    out = {w: [] for w in range(n)}
    i = 0
    while any(len(v) < per for v in out.values()):
        u = f"{prefix}{i}"
        w = shard(u, n)
        if len(out[w]) < per:
            out[w].append(u)
        i += 1
    return out


def worker_pid(svc, index):
    """The pid of the worker bound to svc.socks[index] (its socket inode in /proc)."""
    path = os.path.realpath(svc.socks[index])
    inode = None
    with open("/proc/net/unix") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 8 and parts[7] == path:
                inode = parts[6]
    assert inode, f"no socket at {path}"
    for pid in worker_pids(svc):
        fd_dir = f"/proc/{pid}/fd"
        for fd in os.listdir(fd_dir):
            try:
                if os.readlink(f"{fd_dir}/{fd}") == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise AssertionError(f"no worker holds {path}")


# ipc.h, version 3: magic, version, type, request id, count, flags, generation, workers, index.
IPC_VERSION = 3
IPC_HDR = struct.Struct("!2sBBIHHIHH")
# PUSH_REPLY item: delivered, status, number, acked.
IPC_REPLY_ITEM = struct.Struct("!IIQI")
IPC_PUSH, IPC_PUSH_REPLY, IPC_STATS, IPC_STATS_REPLY = 1, 2, 4, 5
IPC_S_OFFLINE, IPC_S_WRONG_WORKER = 1, 3
# enum ipc_stat, in order, as /metrics names them (uptime travels in milliseconds).
# In enum ipc_stat order (ipc/ipc.h).
STAT_NAMES = ["push_connections", "push_uids_online", "push_queue_bytes", "push_uptime_seconds",
             "push_connections_closing", "push_closing_unsent_bytes",
             "push_pushes_received_total", "push_pushes_delivered_total",
             "push_deliveries_total"] + \
    [f'push_pushes_refused_total{{reason="{r}"}}'
     for r in ("offline", "invalid", "expired", "wrong_worker", "stale_config")] + \
    ["push_slow_consumers_closed_total", "push_slow_consumer_messages_dropped_total",
     "push_ws_accepted_total", "push_ws_refused_total", "push_ipc_errors_total",
     "push_closing_resets_total", "push_ws_handshake_refused_total",
     "push_history_uids", "push_history_messages", "push_history_bytes", "push_ack_waiting",
     "push_pushes_stored_total", 'push_pushes_refused_total{reason="busy"}',
     "push_history_evicted_total", "push_resumes_total", "push_resume_gaps_total",
     "push_replayed_messages_total", "push_acks_total",
     'push_ack_waits_total{result="acked"}', 'push_ack_waits_total{result="timeout"}'] + \
    [f'push_api_refused_total{{reason="{r}"}}'
     for r in ("unauthorized", "bad_request", "too_large", "unsupported_media_type",
               "method_not_allowed", "daemon_unavailable")]


def ipc_call(path, datagram, timeout=5.0):
    """Sends one datagram to a worker's socket and returns (header tuple, payload)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.bind("")  # autobind: the worker can answer
        s.settimeout(timeout)
        s.sendto(datagram, path)
        reply = s.recv(256 * 1024)
    finally:
        s.close()
    return IPC_HDR.unpack_from(reply), reply[IPC_HDR.size:]


def ipc_push(uid, topic=b'"t"', contents=b"1", req_id=7, generation=0, flags=0):
    """A PUSH datagram of one item; generation 0 = no configuration check."""
    u = uid.encode()
    return (IPC_HDR.pack(b"WP", IPC_VERSION, IPC_PUSH, req_id, 1, 0, generation, 0, 0) +
            struct.pack("!HHII", len(u), flags, len(topic), len(contents)) + u + topic +
            contents)


def worker_stats(svc, index):
    """One worker's counters by hand (STATS), named as /metrics names them."""
    hdr, payload = ipc_call(svc.socks[index],
                            IPC_HDR.pack(b"WP", IPC_VERSION, IPC_STATS, 99, 0, 0, 0, 0, 0))
    assert hdr[2] == IPC_STATS_REPLY and hdr[4] == len(STAT_NAMES), hdr
    values = struct.unpack(f"!{len(STAT_NAMES)}Q", payload)
    return dict(zip(STAT_NAMES, values))


def test_datagram_to_the_wrong_worker_is_refused(make_service):
    svc = make_service(workers=3)
    uid = "g-wrong"
    owner = shard(uid, 3)
    other = (owner + 1) % 3
    hdr, payload = ipc_call(svc.socks[other], ipc_push(uid, req_id=41))
    magic, version, typ, req_id, count, _flags, _gen, workers, index = hdr
    assert (magic, version, typ, req_id, count) == (b"WP", IPC_VERSION, IPC_PUSH_REPLY, 41, 1), hdr
    assert (workers, index) == (3, other), hdr
    delivered, status, number, acked = IPC_REPLY_ITEM.unpack(payload)
    assert (delivered, status, number, acked) == (0, IPC_S_WRONG_WORKER, 0, 0)
    # The owner takes it (offline: nobody is connected).
    hdr, payload = ipc_call(svc.socks[owner], ipc_push(uid, req_id=42))
    assert hdr[7:] == (3, owner), hdr
    assert IPC_REPLY_ITEM.unpack(payload)[1] == IPC_S_OFFLINE
    # Counted where it was refused, and nowhere else; the owner counted one offline.
    m = svc.metrics()
    assert m['push_pushes_refused_total{reason="wrong_worker"}'] == 1
    assert m['push_pushes_refused_total{reason="offline"}'] == 1
    assert worker_stats(svc, other)['push_pushes_refused_total{reason="wrong_worker"}'] == 1
    # push-api routes by the same rule: its pushes are never refused as wrong.
    for i in range(12):
        assert svc.push(f"g-route{i}", "t", i)[0] == 404
    m = svc.metrics()
    assert m['push_pushes_refused_total{reason="wrong_worker"}'] == 1
    assert m['push_pushes_refused_total{reason="offline"}'] == 13


def test_tabs_of_a_uid_share_one_sequence(make_service):
    svc = make_service(workers=3)
    uids = [f"w{i}" for i in range(12)]

    async def go():
        first = {u: await svc.connect(u) for u in uids}
        try:
            for u in uids:  # numbers 1..3 in the owning worker
                for k in range(3):
                    await asyncio.to_thread(push_until_delivered, svc, u, "pre", k)
                    await recv_json(first[u])
            second = {u: await svc.connect(u) for u in uids}  # new connections, any worker
            try:
                for u in uids:
                    st, _, d = await asyncio.to_thread(svc.push, u, "both", 1)
                    end = time.monotonic() + 5
                    while d["number"] < 2 and time.monotonic() < end:
                        m = await recv_json(first[u])  # the one that reached only tab 1
                        st, _, d = await asyncio.to_thread(svc.push, u, "both", 1)
                    assert st == 200 and d["number"] == 2, (u, d)
                    a = await recv_json(first[u])
                    b = await recv_json(second[u])
                    # Same worker: one sequence, the same number on both tabs.
                    assert a["number"] == b["number"] and a["number"] >= 4, (u, a, b)
            finally:
                for ws in second.values():
                    await ws.close()
        finally:
            for ws in first.values():
                await ws.close()
    asyncio.run(go())


def test_batch_spans_workers(make_service):
    svc = make_service(workers=2)
    uids = [f"b{i}" for i in range(8)]

    async def go():
        conns = {u: await svc.connect(u) for u in uids}
        try:
            for u in uids:
                await asyncio.to_thread(push_until_delivered, svc, u, "warm", 0)
                await recv_json(conns[u])
            import json
            msgs = [{"uid": u, "topic": "x", "contents": i} for i, u in enumerate(uids * 3)]
            st, _, d = await asyncio.to_thread(
                svc.request, "POST", "/push", {"password": svc.password},
                body=json.dumps(msgs).encode(), headers={"Content-Type": "application/json"})
            assert st == 200 and d["number"] == len(msgs), d
            for k, u in enumerate(uids):
                got = [(await recv_json(conns[u]))["contents"] for _ in range(3)]
                assert got == [k, k + 8, k + 16]
        finally:
            for ws in conns.values():
                await ws.close()
    asyncio.run(go())
    m = svc.metrics()
    assert m["push_pushes_delivered_total"] >= 8 + 24


def test_dead_worker_is_restarted_others_serve(make_service):
    svc = make_service(workers=2)
    before = worker_pids(svc)
    assert len(before) == 2
    os.kill(before[0], signal.SIGKILL)
    end = time.monotonic() + 10
    after = before
    while time.monotonic() < end:
        after = worker_pids(svc)
        if len(after) == 2 and before[0] not in after:
            break
        time.sleep(0.05)
    assert len(after) == 2 and before[0] not in after, (before, after)
    assert before[1] in after  # the other one was never touched

    async def go():  # every shard works again
        for i in range(6):
            ws = await svc.connect(f"again{i}")
            try:
                await asyncio.to_thread(push_until_delivered, svc, f"again{i}", "t", i)
                assert (await recv_json(ws))["contents"] == i
            finally:
                await ws.close()
    asyncio.run(go())
