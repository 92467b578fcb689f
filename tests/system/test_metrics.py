# SPDX-License-Identifier: MIT
"""GET /metrics: Prometheus text, password-protected, and counters that match what
the test did (pushes delivered/offline/refused, connections, refusals by reason)."""
import asyncio

import websockets

from conftest import push_until_delivered, recv_json, wait_until


def metrics(svc):
    return svc.metrics()


def test_metrics_needs_password(make_service):
    svc = make_service()
    st, _, data = svc.request("GET", "/metrics")
    assert st == 401, data
    st, _, data = svc.request("GET", "/metrics", {"password": "nope"})
    assert st == 401, data
    st, _, data = svc.request("POST", "/metrics", {"password": svc.password}, body=b"")
    assert st == 405, data


def test_metrics_count_what_happened(make_service):
    svc = make_service(send_queue_max_messages=4, history_size=0)  # a history must fit the queue
    m0 = metrics(svc)
    assert m0["push_connections"] == 0 and m0["push_uptime_seconds"] > 0

    async def go():
        a1 = await svc.connect("m-a")
        a2 = await svc.connect("m-a")
        b = await svc.connect("m-b")
        try:
            # 3 delivered messages: 2 to m-a's two tabs (4 frames), 1 to m-b.
            st, _, d = await asyncio.to_thread(push_until_delivered, svc, "m-a", "t", 1)
            while d["number"] < 2:  # both tabs attached (probe pushes count as offline/delivered)
                st, _, d = await asyncio.to_thread(svc.push, "m-a", "t", 1)
            m1 = await asyncio.to_thread(metrics, svc)
            st, _, d = await asyncio.to_thread(svc.push, "m-a", "t", 2)
            assert d["number"] == 2
            st, _, d = await asyncio.to_thread(svc.push, "m-b", "t", 3)
            assert st == 200
            for _ in range(5):  # offline
                assert (await asyncio.to_thread(svc.push, "m-nobody", "t", 0))[0] == 404
            assert (await asyncio.to_thread(svc.push, "m-a", "t", 0, password="bad"))[0] == 401
            assert (await asyncio.to_thread(svc.push, "m-a", body=b"{"))[0] == 400
            assert (await asyncio.to_thread(svc.push, "m-a", "t", 0,
                                            content_type="text/plain"))[0] == 415
            assert (await asyncio.to_thread(svc.request, "GET", "/push",
                                            {"uid": "m-a", "password": svc.password}))[0] == 405
            bad = await websockets.connect(svc.ws_url("m-c", "v1.1.x"), ping_interval=None)
            await recv_json(bad)
            await bad.close()
            m2 = await asyncio.to_thread(metrics, svc)
            d_ = lambda k: m2[k] - m1[k]
            assert m2["push_connections"] == 3 and m2["push_uids_online"] == 2, m2
            assert d_("push_pushes_delivered_total") == 2
            assert d_("push_deliveries_total") == 3
            assert d_('push_pushes_refused_total{reason="offline"}') == 5
            assert d_("push_pushes_received_total") == 7
            assert d_('push_api_refused_total{reason="unauthorized"}') == 1
            assert d_('push_api_refused_total{reason="bad_request"}') == 1
            assert d_('push_api_refused_total{reason="unsupported_media_type"}') == 1
            assert d_('push_api_refused_total{reason="method_not_allowed"}') == 1
            assert d_("push_ws_refused_total") == 1
            assert m2["push_ws_accepted_total"] - m0["push_ws_accepted_total"] == 3
        finally:
            for ws in (a1, a2, b):
                await ws.close()
    asyncio.run(go())
    # Everyone left: the gauges come back down.
    last = {}

    def gauges_down():
        last.update(metrics(svc))
        return last["push_connections"] == 0 and last["push_uids_online"] == 0
    assert wait_until(gauges_down, 10), last
    assert last["push_queue_bytes"] == 0


def _sum_workers(stats):
    """What /metrics must say for these per-worker counters: sums (uptime aside)."""
    return {k: sum(s[k] for s in stats) for k in stats[0] if k != "push_uptime_seconds"}


def test_metrics_with_a_stopped_worker(make_service):
    """200 with the sum of the workers that answered and push_worker_up per worker;
    503 only when no worker answers."""
    import os
    import signal

    from test_workers import uids_of_workers, worker_pid, worker_stats

    svc = make_service(workers=3, push_timeout_ms=300)
    owners = uids_of_workers(3, 2, "ms")

    async def go():
        conns = [await svc.connect(u) for w in (0, 2) for u in owners[w]]
        try:
            for w in (0, 2):
                for u in owners[w]:
                    await asyncio.to_thread(push_until_delivered, svc, u, "t", 1)
            assert svc.push(owners[1][0], "t", 0)[0] == 404
            assert svc.push(owners[0][0], "t", 0, password="bad")[0] == 401
            per = [worker_stats(svc, w) for w in range(3)]
            m = metrics(svc)
            want = _sum_workers(per)
            assert {k: m[k] for k in want} == want
            assert m["push_connections"] == 4
            assert [m[f'push_worker_up{{worker="{w}"}}'] for w in range(3)] == [1, 1, 1]
            pid = worker_pid(svc, 1)
            os.kill(pid, signal.SIGSTOP)
            try:
                m = await asyncio.to_thread(metrics, svc)
                assert [m[f'push_worker_up{{worker="{w}"}}'] for w in range(3)] == [1, 0, 1]
                up = _sum_workers([per[0], per[2]])
                assert {k: m[k] for k in up} == up
                assert m["push_connections"] == 4 and m["push_uids_online"] == 4
                assert m['push_pushes_refused_total{reason="offline"}'] == \
                    per[0]['push_pushes_refused_total{reason="offline"}'] + \
                    per[2]['push_pushes_refused_total{reason="offline"}']
            finally:
                os.kill(pid, signal.SIGCONT)
            m = await asyncio.to_thread(metrics, svc)
            assert [m[f'push_worker_up{{worker="{w}"}}'] for w in range(3)] == [1, 1, 1]
            assert m['push_pushes_refused_total{reason="offline"}'] == 1
            svc.freeze_daemon(signal.SIGSTOP)
            try:
                st, _, data = await asyncio.to_thread(
                    svc.request, "GET", "/metrics", {"password": svc.password})
                assert st == 503, (st, data)
            finally:
                svc.freeze_daemon(signal.SIGCONT)
        finally:
            for ws in conns:
                await ws.close()
    asyncio.run(go())


def test_daemon_unavailable_counts_503s_from_while_it_was_down(make_service):
    import time

    svc = make_service()
    assert svc.push("du", "t", 0)[0] == 404
    svc.stop_daemon()
    statuses = [svc.push("du", "t", i)[0] for i in range(3)]
    assert statuses == [503, 503, 503]
    svc.start_daemon()
    # Each push-api process tells its kept refusals with its next request that
    # reaches the daemon; the daemon's counters started from zero.
    end = time.monotonic() + 10
    while True:
        assert svc.push("du", "t", 0)[0] == 404
        got = metrics(svc)['push_api_refused_total{reason="daemon_unavailable"}']
        if got == 3 or time.monotonic() > end:
            break
    assert got == 3
    assert svc.push("du", "t", 0)[0] == 404
    assert metrics(svc)['push_api_refused_total{reason="daemon_unavailable"}'] == 3
