# SPDX-License-Identifier: MIT
"""Volume: 1,000 sequential pushes to one uid, and concurrent pushes to 100 uids."""
import asyncio
import concurrent.futures
import http.client
import json
import threading
import time
import urllib.parse
from collections import defaultdict

from conftest import assert_serving, recv_user, run


class Pusher:
    """Keep-alive HTTP client for /push (one per thread)."""

    def __init__(self, svc):
        self.svc = svc
        self.conn = http.client.HTTPConnection("127.0.0.1", svc.http_port, timeout=10)

    def push(self, uid, topic, contents):
        q = urllib.parse.urlencode({"uid": uid, "password": self.svc.password})
        body = json.dumps({"topic": topic, "contents": contents})
        for attempt in range(2):
            try:
                self.conn.request("POST", "/push?" + q, body=body,
                                  headers={"Content-Type": "application/json"})
                resp = self.conn.getresponse()
                return resp.status, json.loads(resp.read())
            except (http.client.HTTPException, ConnectionError):
                # The server may close an idle keep-alive connection: one fresh retry.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.svc.http_port,
                                                       timeout=10)
                if attempt:
                    raise

    def close(self):
        self.conn.close()


def test_1000_sequential_pushes_arrive_in_order(service):
    n = 1000

    async def go():
        ws = await service.connect("firehose")
        try:
            await asyncio.to_thread(service.wait_online, "firehose")

            def push_all():
                p = Pusher(service)
                try:
                    for i in range(n):
                        st, data = p.push("firehose", "seq", {"i": i, "pad": "张" * 20})
                        assert st == 200 and data["number"] == 1, (i, st, data)
                finally:
                    p.close()

            pusher = asyncio.create_task(asyncio.to_thread(push_all))
            got = []
            deadline = time.monotonic() + 60
            while len(got) < n:
                msg = await recv_user(ws, timeout=max(0.1, deadline - time.monotonic()))
                got.append(msg)
            await pusher
            assert [m["contents"]["i"] for m in got] == list(range(n))
            assert all(m["topic"] == "seq" and m["contents"]["pad"] == "张" * 20 for m in got)
            nums = [m["number"] for m in got]
            assert nums == list(range(nums[0], nums[0] + n)), "numbers not consecutive"
            # Nothing extra behind them.
            st, _, _ = await asyncio.to_thread(service.push, "firehose", "end", None)
            assert st == 200
            last = await recv_user(ws)
            assert last["topic"] == "end" and last["number"] == nums[-1] + 1
        finally:
            await ws.close()
    run(go())


def test_concurrent_pushes_to_100_uids_arrive_exactly_once(service):
    uids = [f"crowd-user-{i:03d}" for i in range(100)]
    per_uid = 10
    got = defaultdict(list)

    async def go():
        conns = {}
        try:
            for uid in uids:
                conns[uid] = await service.connect(uid)

            async def reader(uid, ws):
                while True:
                    msg = json.loads(await ws.recv())
                    if msg["topic"] == "end":
                        return
                    if msg["topic"] != "_probe":
                        got[uid].append(msg)

            readers = [asyncio.create_task(reader(u, w)) for u, w in conns.items()]

            def online_all():
                for uid in uids:
                    service.wait_online(uid)

            await asyncio.to_thread(online_all)

            local = threading.local()
            pushers = []
            lock = threading.Lock()

            def push_one(job):
                uid, k = job
                if not hasattr(local, "p"):
                    local.p = Pusher(service)
                    with lock:
                        pushers.append(local.p)
                return job, local.p.push(uid, "load", {"uid": uid, "k": k})

            jobs = [(uid, k) for k in range(per_uid) for uid in uids]
            try:
                with concurrent.futures.ThreadPoolExecutor(16) as pool:
                    results = await asyncio.to_thread(lambda: list(pool.map(push_one, jobs)))
            finally:
                for p in pushers:
                    p.close()
            bad = [(job, r) for job, r in results if r != (200, {"topic": "success", "number": 1,
                                                               "contents": "推送成功"})]
            assert not bad, f"{len(bad)} pushes failed, e.g. {bad[:3]}"

            # Then one "end" per uid: a connection delivers in order, so whatever was
            # still on its way (a late or duplicate message) arrives before it.
            def push_ends():
                p = Pusher(service)
                try:
                    return [p.push(uid, "end", None)[0] for uid in uids]
                finally:
                    p.close()
            assert await asyncio.to_thread(push_ends) == [200] * len(uids)
            try:
                await asyncio.wait_for(asyncio.gather(*readers), 60)
            finally:
                for r in readers:
                    r.cancel()
        finally:
            for ws in conns.values():
                await ws.close()

    run(go())
    missing, dupes, strays = {}, {}, {}
    for uid in uids:
        ks = [m["contents"]["k"] for m in got[uid]]
        if any(m["contents"]["uid"] != uid for m in got[uid]):
            strays[uid] = [m for m in got[uid] if m["contents"]["uid"] != uid]
        if sorted(set(ks)) != list(range(per_uid)):
            missing[uid] = sorted(set(range(per_uid)) - set(ks))
        if len(ks) != len(set(ks)):
            dupes[uid] = ks
        nums = [m["number"] for m in got[uid]]
        # wait_online delivered exactly one probe before these.
        assert nums == list(range(2, 2 + len(nums))), \
            f"{uid}: numbers not consecutive from 2 in arrival order: {nums}"
    assert not strays, f"messages for another uid: {list(strays.items())[:3]}"
    assert not missing, f"{len(missing)} uids missing messages: {list(missing.items())[:5]}"
    assert not dupes, f"{len(dupes)} uids got duplicates: {list(dupes.items())[:5]}"
    assert_serving(service)


def test_one_uid_50_connections_all_receive_everything(service):
    n_conns, n_msgs = 50, 20

    async def go():
        conns = []
        try:
            for _ in range(n_conns):
                conns.append(await service.connect("many-tabs"))
            await asyncio.to_thread(service.wait_online, "many-tabs", n_conns)
            for i in range(n_msgs):
                st, data = await asyncio.to_thread(
                    lambda i=i: service.push("many-tabs", "tab", i)[::2])
                assert st == 200 and data["number"] == n_conns, (st, data)
            for ws in conns:
                got = [await recv_user(ws) for _ in range(n_msgs)]
                assert [m["contents"] for m in got] == list(range(n_msgs))
                nums = [m["number"] for m in got]
                assert nums == list(range(nums[0], nums[0] + n_msgs))
        finally:
            for ws in conns:
                await ws.close()
    run(go())
