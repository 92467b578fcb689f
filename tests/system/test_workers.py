"""ws-daemon with several workers: a uid's connections all land in the worker that
owns it (one sequence of numbers), pushes and batches reach the right worker, and
a worker that dies is restarted while the others keep serving."""
import asyncio
import os
import signal
import subprocess
import time

from conftest import push_until_delivered, recv_json


def worker_pids(svc):
    out = subprocess.run(["pgrep", "-P", str(svc.daemon.pid)], capture_output=True, text=True)
    return sorted(int(p) for p in out.stdout.split())


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
