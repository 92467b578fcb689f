# SPDX-License-Identifier: MIT
"""Batch /push: one request carries many {"uid","topic","contents"} messages and is
answered with a result per message; the seed's single form is unchanged."""
import asyncio
import json

from conftest import is_error_body, push_until_delivered, recv_json


def batch(svc, messages, **kw):
    return svc.request("POST", "/push", {"password": svc.password},
                       body=json.dumps(messages).encode(),
                       headers={"Content-Type": "application/json"}, **kw)


def test_batch_per_message_results_and_order(make_service):
    svc = make_service()

    async def go():
        a1, a2, b = (await svc.connect("ba"), await svc.connect("ba"), await svc.connect("bb"))
        try:
            for uid, want in (("ba", 2), ("bb", 1)):
                st, _, d = await asyncio.to_thread(push_until_delivered, svc, uid, "warm", 0)
                while d["number"] < want:
                    st, _, d = await asyncio.to_thread(svc.push, uid, "warm", 0)
            # Drain the warm-ups: a "sync" push to each uid is the last of them.
            for uid, conns in (("ba", (a1, a2)), ("bb", (b,))):
                st, _, d = await asyncio.to_thread(svc.push, uid, "sync", 0)
                assert st == 200 and d["number"] == len(conns), d
                for ws in conns:
                    while (await recv_json(ws))["topic"] != "sync":
                        pass
            msgs = [{"uid": "ba", "topic": "m", "contents": 1},
                    {"uid": "nobody", "topic": "m", "contents": 2},
                    {"uid": "bb", "topic": "m", "contents": {"x": "三"}},
                    {"uid": "ba", "topic": "m", "contents": [3]},
                    {"uid": "", "topic": "m", "contents": 4},
                    {"uid": "ba", "topic": 5, "contents": 5},
                    {"uid": "ba", "topic": "m"}]
            st, _, d = await asyncio.to_thread(batch, svc, msgs)
            assert st == 200 and d["topic"] == "success" and d["number"] == 3, d
            r = d["contents"]
            assert [x["uid"] for x in r] == ["ba", "nobody", "bb", "ba", "", "ba", "ba"]
            assert [x["topic"] for x in r] == ["success", "error", "success", "success",
                                               "error", "error", "error"]
            assert [x["number"] for x in r] == [2, 0, 1, 2, 0, 0, 0]
            assert r[1]["contents"] == "此用户不在线"
            assert r[4]["contents"] == "uid is missing"
            for ws in (a1, a2):
                m1, m2 = await recv_json(ws), await recv_json(ws)
                assert (m1["contents"], m2["contents"]) == (1, [3])
                assert m2["number"] == m1["number"] + 1
            assert (await recv_json(b))["contents"] == {"x": "三"}
        finally:
            for ws in (a1, a2, b):
                await ws.close()
    asyncio.run(go())


def test_batch_of_many_messages_to_many_uids(make_service):
    svc = make_service(max_message_bytes=131072, send_queue_max_bytes=1048576)
    uids = [f"bu{i}" for i in range(20)]

    async def go():
        conns = [await svc.connect(u) for u in uids]
        try:
            for u in uids:
                await asyncio.to_thread(push_until_delivered, svc, u, "warm", 0)
                await recv_json(conns[uids.index(u)])
            msgs = [{"uid": uids[i % 20], "topic": "n", "contents": i} for i in range(1000)]
            st, _, d = await asyncio.to_thread(batch, svc, msgs)
            assert st == 200 and d["number"] == 1000, (st, str(d)[:300])
            for k, ws in enumerate(conns):
                got = [(await recv_json(ws))["contents"] for _ in range(50)]
                assert got == list(range(k, 1000, 20))
        finally:
            for ws in conns:
                await ws.close()
    asyncio.run(go())


def test_batch_bad_bodies(make_service):
    svc = make_service()
    for body, why in ((b"[]", "array of 1 to 1024"), (b"[1", "not valid JSON"),
                      (json.dumps([{"uid": "x", "topic": "t", "contents": 1}] * 1025).encode(),
                       "array of 1 to 1024")):
        st, _, d = svc.request("POST", "/push", {"password": svc.password}, body=body,
                               headers={"Content-Type": "application/json"})
        assert st == 400 and is_error_body(d) and why in d["contents"], (st, d)
    # The single form without ?uid= still says what is missing.
    st, _, d = svc.request("POST", "/push", {"password": svc.password},
                           body=b'{"topic":"t","contents":1}',
                           headers={"Content-Type": "application/json"})
    assert st == 400 and d["contents"] == "uid is missing", d
    st, _, d = svc.request("POST", "/push", {"password": "wrong"}, body=b"[]",
                           headers={"Content-Type": "application/json"})
    assert st == 401, d


def test_batch_uid_with_nul_is_refused_and_named(make_service):
    """A uid holding "\\u0000" is refused by the uid rule and echoed back whole
    (found by the wmsg fuzzer: the copy used to stop at the NUL)."""
    svc = make_service()
    body = b'[{"uid":"\\u0000bcdefghijklmnop","topic":"t","contents":1}]'
    st, _, d = svc.request("POST", "/push", {"password": svc.password}, body=body,
                           headers={"Content-Type": "application/json"})
    assert st == 200, d
    item = d["contents"][0]
    assert item["uid"] == "\x00bcdefghijklmnop"
    assert item["topic"] == "error" and item["contents"] == "uid contains control characters"


def test_batch_with_a_stopped_worker_answers_per_item(make_service):
    """One worker stopped: its items get a per-item 503 (not delivered), the others
    are delivered and answered at once; after SIGCONT nothing arrives twice."""
    import os
    import signal
    import time

    from test_workers import uids_of_workers, worker_pid

    svc = make_service(workers=3, push_timeout_ms=500)
    owners = uids_of_workers(3, 2, "bs")
    stopped = 1
    uids = [u for w in range(3) for u in owners[w]]

    async def go():
        conns = {u: await svc.connect(u) for u in uids}
        pid = worker_pid(svc, stopped)
        try:
            for u in uids:
                await asyncio.to_thread(push_until_delivered, svc, u, "warm", 0)
                await recv_json(conns[u])
            os.kill(pid, signal.SIGSTOP)
            try:
                msgs = [{"uid": u, "topic": "m", "contents": i} for i, u in enumerate(uids)]
                t0 = time.monotonic()
                st, _, d = await asyncio.to_thread(batch, svc, msgs)
                took = time.monotonic() - t0
                assert st == 200, (st, d)
                r = d["contents"]
                for i, u in enumerate(uids):
                    if u in owners[stopped]:
                        assert r[i]["topic"] == "error" and r[i]["status"] == 503, r[i]
                        assert r[i]["number"] == 0 and r[i]["contents"], r[i]
                    else:
                        assert r[i] == {"uid": u, "topic": "success", "number": 1,
                                        "contents": "推送成功"}, r[i]
                assert d["number"] == 4, d
                # One timeout for the whole batch, not one per worker.
                assert took < 2 * 0.5 + 0.5, took
                for i, u in enumerate(uids):
                    if u not in owners[stopped]:
                        assert (await recv_json(conns[u]))["contents"] == i
            finally:
                os.kill(pid, signal.SIGCONT)
            # The stopped worker drops the datagram it got too late: the client's
            # retry of the 503 items is the only copy that arrives.
            retry = [{"uid": u, "topic": "m", "contents": uids.index(u)}
                     for u in owners[stopped]]
            st, _, d = await asyncio.to_thread(batch, svc, retry)
            assert st == 200 and d["number"] == 2, d
            for u in owners[stopped]:
                assert (await recv_json(conns[u]))["contents"] == uids.index(u)
            st, _, d = await asyncio.to_thread(svc.push, owners[stopped][0], "marker", None)
            assert st == 200, d
            assert (await recv_json(conns[owners[stopped][0]]))["topic"] == "marker"
        finally:
            for ws in conns.values():
                await ws.close()
    asyncio.run(go())
    m = svc.metrics()
    assert m['push_pushes_refused_total{reason="expired"}'] == 1
    assert m["push_pushes_delivered_total"] == 6 + 4 + 2 + 1
