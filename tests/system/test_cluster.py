# SPDX-License-Identifier: MIT
"""Several hosts joined by Redis (engine: redis, issue 13): three real hosts (ws-daemon,
lighttpd, push-api, each on its own loopback address 127.0.0.N) and two real
redis-server shards. The contract suite with one uid's tabs on two hosts and the
business server talking to a third; then faults: a Redis shard down, a host killed,
a shard restarted empty, a slow shard.

One web server suffices here: what is under test is the daemons' exchange through
Redis, which no web server takes part in (every web server is tested per host by the
rest of the suite), so the cluster always runs lighttpd, whatever PUSH_WEB says."""
import asyncio
import json
import shutil
import threading
import time

import pytest
import websockets

from conftest import Cluster, is_error_body, recv_json, resp_command, wait_until
from test_batch import batch
from test_control import (KICK_CODE, KICK_REASON, closed_with, ctl, presence,
                          presence_of, refused_as_revoked, until_connections)
from test_examples import NodeClient, php, php_has_curl
from test_history import connect_at, numbers, position, push, push_ok, quiet
from test_workers import shard


pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is not installed (scripts/deps.sh test)")

OFFLINE = {"topic": "error", "number": 0, "contents": "此用户不在线"}


def success(n):
    return {"topic": "success", "number": n, "contents": "推送成功"}


@pytest.fixture(scope="module")
def cluster():
    """Three hosts, two shards, for the tests that leave both as they found them
    (fcgi_procs 3: the slow-shard test keeps one push waiting while others go on)."""
    with Cluster(hosts=3, shards=2, fcgi_procs=3) as c:
        yield c


def wait_presence(host, uid, n, timeout=10.0):
    """Until GET /presence?uid on `host` counts n connections over all hosts. A tab
    opened without `since` is reachable from other hosts once its Redis subscription
    is confirmed, with no signal to the client: a push from another host waits for
    this. (A tab that gave `since` gets its position frame only once subscribed.)"""
    until_connections(host, uid, n, timeout)


async def open_tabs(places, uid, key=None):
    """Seed-style tabs (no `since`) of uid, one per host in `places` (a host may be
    listed twice), with one key when given (any host's key opens any host)."""
    return [await h.connect(uid, key) for h in places]


async def close_tabs(*groups):
    for g in groups:
        for ws in g:
            try:
                await asyncio.wait_for(ws.close(), 3)
            except asyncio.TimeoutError:
                ws.transport.abort()


def kick(host, uid, revoke=False):
    """POST /kick with an empty body: lighttpd wants a Content-Length on a POST."""
    q = {"uid": uid, **({"revoke": "1"} if revoke else {})}
    return ctl(host, "POST", "/kick", q, body=None, headers={"Content-Length": "0"})


async def pong_seconds(ws, timeout=5.0):
    t0 = time.monotonic()
    waiter = await ws.ping()
    await asyncio.wait_for(waiter, timeout)
    return time.monotonic() - t0


async def drain(ws, seconds=0.5):
    """Every frame that arrives until `seconds` pass without one."""
    out = []
    while True:
        try:
            out.append(await recv_json(ws, seconds))
        except asyncio.TimeoutError:
            return out


# -- the contract across hosts -------------------------------------------------

def test_seed_flow_with_keys_from_any_host(cluster):
    """The seed example flow: a key from host A opens a tab on A, a key from host C
    opens one on B (keys are signed with the shared password, no host state); a push
    to C reaches both, numbered as the uid's first message."""
    a, b, c = cluster.hosts
    uid = "cl-seed"

    async def go():
        key_a = await asyncio.to_thread(a.access, uid)
        key_c = await asyncio.to_thread(c.access, uid)
        tabs = await open_tabs([a], uid, key_a) + await open_tabs([b], uid, key_c)
        try:
            await asyncio.to_thread(wait_presence, c, uid, 2)
            st, hdrs, d = await asyncio.to_thread(c.push, uid, "info_update",
                                                  {"name": "张三", "age": 17})
            assert st == 200 and d == success(2), (st, d)
            assert hdrs["content-type"].startswith("application/json")
            for ws in tabs:
                assert await recv_json(ws) == {"topic": "info_update", "number": 1,
                                               "contents": {"name": "张三", "age": 17}}
                await quiet(ws, 0.2)
        finally:
            await close_tabs(tabs)
    asyncio.run(go())


def test_one_sequence_per_uid_whichever_host_pushes(cluster):
    """Pushes to hosts A, B and C, one after another and then all at once: every
    answer counts both tabs, and both tabs see the same numbers 1..N, in order."""
    a, b, c = cluster.hosts
    uid = "cl-seq"

    async def go():
        tabs = await open_tabs([a, b], uid)
        try:
            await asyncio.to_thread(wait_presence, c, uid, 2)
            for i, h in enumerate((c, a, b)):
                st, _, d = await asyncio.to_thread(h.push, uid, "t", i)
                assert st == 200 and d == success(2), (h.host, st, d)
            # Then 30 at once, ten through each host.
            def pusher(h, base):
                for i in range(10):
                    st, _, d = h.push(uid, "t", base + i)
                    assert st == 200 and d == success(2), (h.host, st, d)
            await asyncio.gather(*(asyncio.to_thread(pusher, h, 100 * (k + 1))
                                   for k, h in enumerate((a, b, c))))
            got = [await numbers(ws, 33) for ws in tabs]
            assert got[0][0] == list(range(1, 34)), got[0][0]
            assert got[0] == got[1], "the two hosts' tabs saw different streams"
            assert got[0][1][:3] == [0, 1, 2]
            assert sorted(got[0][1][3:]) == sorted(100 * (k + 1) + i for k in range(3)
                                                   for i in range(10))
            for ws in tabs:
                await quiet(ws, 0.2)
        finally:
            await close_tabs(tabs)
    asyncio.run(go())


def test_offline_uid_is_404_on_every_host(cluster):
    a, b, c = cluster.hosts
    uid = "cl-gone"
    for h in (a, b, c):
        st, hdrs, d = h.push("cl-nobody", "t", {"x": 1})
        assert st == 404 and d == OFFLINE, (h.host, st, d)
        assert hdrs["content-type"].startswith("application/json")

    async def go():
        tabs = await open_tabs([a], uid)
        await asyncio.to_thread(wait_presence, c, uid, 1)
        st, _, d = await asyncio.to_thread(c.push, uid, "t", 1)
        assert st == 200 and d == success(1), (st, d)
        await close_tabs(tabs)
        # Once host A has seen the tab go, no host reaches the uid.
        await asyncio.to_thread(wait_presence, c, uid, 0)
        for h in (a, b, c):
            st, _, d = await asyncio.to_thread(h.push, uid, "t", 2)
            assert st == 404 and d == OFFLINE, (h.host, st, d)
    asyncio.run(go())


def test_batch_mixes_hosts_and_offline_uids(cluster):
    a, b, c = cluster.hosts
    two, one = "cl-batch-2", "cl-batch-1"

    async def go():
        tabs2 = await open_tabs([a, b], two)
        tabs1 = await open_tabs([b], one)
        try:
            await asyncio.to_thread(wait_presence, c, two, 2)
            await asyncio.to_thread(wait_presence, c, one, 1)
            msgs = [{"uid": two, "topic": "m", "contents": 1},
                    {"uid": "cl-batch-off", "topic": "m", "contents": 2},
                    {"uid": one, "topic": "m", "contents": {"x": "三"}},
                    {"uid": two, "topic": "m", "contents": [3]},
                    {"uid": "", "topic": "m", "contents": 4}]
            st, _, d = await asyncio.to_thread(batch, c, msgs)
            assert st == 200 and d["topic"] == "success" and d["number"] == 3, (st, d)
            r = d["contents"]
            assert [x["uid"] for x in r] == [m["uid"] for m in msgs], r
            assert r[0] == {"uid": two, **success(2)}, r
            assert r[1] == {"uid": "cl-batch-off", **OFFLINE}, r
            assert r[2] == {"uid": one, **success(1)}, r
            assert r[3] == {"uid": two, **success(2)}, r
            assert r[4]["topic"] == "error" and r[4]["contents"] == "uid is missing", r
            for ws in tabs2:
                assert await numbers(ws, 2) == ([1, 2], [1, [3]])
            assert await numbers(tabs1[0], 1) == ([1], [{"x": "三"}])
        finally:
            await close_tabs(tabs1, tabs2)
    asyncio.run(go())


def test_resume_on_another_host_gets_exactly_the_missed(cluster):
    """A tab on host A sees 1..2, drops, and comes back on host B with its position:
    the messages pushed meanwhile (through C, kept for the uid by a tab on C), then
    live ones."""
    a, b, c = cluster.hosts
    uid = "cl-resume"

    async def go():
        stay = (await open_tabs([c], uid))[0]
        tab = await connect_at(a, uid, since="now")
        p = await position(tab)
        epoch = p["epoch"]
        assert (p["last"], p["recovered"]) == (0, True), p
        await asyncio.to_thread(wait_presence, c, uid, 2)
        for i in range(2):
            assert (await asyncio.to_thread(push_ok, c, uid, f"seen{i}"))["number"] == 2
        assert await numbers(tab, 2) == ([1, 2], ["seen0", "seen1"])
        await tab.close()
        await asyncio.to_thread(wait_presence, c, uid, 1)
        for i in range(3):
            assert (await asyncio.to_thread(push_ok, c, uid, f"missed{i}"))["number"] == 1
        tab = await connect_at(b, uid, since=2, epoch=epoch)
        try:
            p = await position(tab)
            assert (p["epoch"], p["recovered"], p["first"], p["last"]) == \
                (epoch, True, 3, 5), p
            assert await numbers(tab, 3) == ([3, 4, 5], ["missed0", "missed1", "missed2"])
            d = await asyncio.to_thread(push_ok, a, uid, "live")
            assert d == success(2), d
            assert await numbers(tab, 1) == ([6], ["live"])
            await quiet(tab)
            assert (await numbers(stay, 6))[0] == [1, 2, 3, 4, 5, 6]
        finally:
            await close_tabs([tab, stay])
    asyncio.run(go())


def test_presence_counts_every_host(cluster):
    """Presence of one uid and of many counts the tabs on all hosts, whichever host is
    asked; the totals (GET /presence without uid) are the asked host's own."""
    a, b, c = cluster.hosts
    p1, p2, off = "cl-pres-1", "cl-pres-2", "cl-pres-off"

    async def go():
        t1 = await open_tabs([a, b, b], p1)
        t2 = await open_tabs([c], p2)
        try:
            await asyncio.to_thread(wait_presence, a, p1, 3)
            for h in (a, b, c):
                assert await asyncio.to_thread(presence, h, p1) == \
                    {"topic": "presence", "number": 3,
                     "contents": {"uid": p1, "connections": 3}}, h.host
                d = await asyncio.to_thread(presence_of, h, [p2, off, p1, p2])
                assert d == {"topic": "presence", "number": 2,
                             "contents": {p2: 1, off: 0, p1: 3}}, (h.host, d)
                assert list(d["contents"]) == [p2, off, p1]
            assert (await asyncio.to_thread(presence, b, off))["number"] == 0
            # Totals: per host (what this host holds), not the cluster's.
            for h, conns in ((a, 1), (b, 2), (c, 1)):
                assert await asyncio.to_thread(
                    wait_until, lambda h=h, n=conns: presence(h)["contents"] ==
                    {"connections": n, "uids": 1}, 5), (h.host, presence(h))
            await t1[1].close()
            await asyncio.to_thread(wait_presence, c, p1, 2)
        finally:
            await close_tabs(t1, t2)
        await asyncio.to_thread(wait_presence, b, p1, 0)
    asyncio.run(go())


def test_kick_closes_the_tabs_on_every_host(cluster):
    a, b, c = cluster.hosts
    target, other = "cl-kick", "cl-kick-stay"

    async def go():
        key = await asyncio.to_thread(a.access, target)
        tabs = await open_tabs([a, b, b], target, key)
        stay = await open_tabs([a], other)
        try:
            await asyncio.to_thread(wait_presence, c, target, 3)
            await asyncio.to_thread(wait_presence, c, other, 1)
            st, _, d = await asyncio.to_thread(kick, c, target)
            assert st == 200 and d == {"topic": "success", "number": 3,
                                       "contents": "kicked"}, (st, d)
            for ws in tabs:
                assert await closed_with(ws) == (KICK_CODE, KICK_REASON)
            await asyncio.to_thread(wait_presence, c, target, 0)
            st, _, d = await asyncio.to_thread(c.push, other, "still", 1)
            assert st == 200 and d == success(1), d
            assert (await recv_json(stay[0]))["topic"] == "still"
            st, _, d = await asyncio.to_thread(kick, b, target)
            assert st == 200 and d["number"] == 0, (st, d)
            # Without revoke the key still opens a tab, on any host.
            again = await open_tabs([b], target, key)
            tabs.extend(again)
            await asyncio.to_thread(wait_presence, a, target, 1)
            st, _, d = await asyncio.to_thread(a.push, target, "back", 2)
            assert st == 200 and d == success(1), d
            assert (await recv_json(again[0]))["topic"] == "back"
        finally:
            await close_tabs(tabs, stay)
    asyncio.run(go())


def test_kick_with_revoke_refuses_the_key_on_every_host(cluster):
    """Revoked through host C: the old key is refused on A and B, which held tabs,
    and on C, which held none; so is the key of a uid that had no tab anywhere."""
    a, b, c = cluster.hosts
    uid, quiet_uid = "cl-revoke", "cl-revoke-quiet"

    async def go():
        old = await asyncio.to_thread(a.access, uid)
        old_quiet = await asyncio.to_thread(b.access, quiet_uid)
        tabs = await open_tabs([a, b], uid, old)
        await asyncio.to_thread(wait_presence, c, uid, 2)
        st, _, d = await asyncio.to_thread(kick, c, uid, True)
        assert st == 200 and d == {"topic": "success", "number": 2, "contents": "kicked",
                                   "revoked": True}, (st, d)
        for ws in tabs:
            assert await closed_with(ws) == (KICK_CODE, KICK_REASON)
        for h in (a, b, c):
            await refused_as_revoked(h, uid, old)
        st, _, d = await asyncio.to_thread(kick, a, quiet_uid, True)
        assert st == 200 and d["number"] == 0 and d["revoked"] is True, (st, d)
        for h in (a, b, c):
            await refused_as_revoked(h, quiet_uid, old_quiet)
        # A key issued in a later second opens a tab on any host.
        await asyncio.sleep(max(0.0, int(time.time()) + 1.05 - time.time()))
        fresh = await asyncio.to_thread(c.access, uid)
        ws = await b.connect(uid, fresh)
        try:
            await asyncio.to_thread(wait_presence, a, uid, 1)
            st, _, d = await asyncio.to_thread(a.push, uid, "welcome-back", 1)
            assert st == 200 and d == success(1), d
            assert (await recv_json(ws))["topic"] == "welcome-back"
        finally:
            await ws.close()
    asyncio.run(go())


def test_multicast_across_hosts(cluster):
    a, b, c = cluster.hosts
    m1, m2, m3 = "cl-mc-1", "cl-mc-2", "cl-mc-3"

    async def go():
        tabs = {m1: await open_tabs([a, b], m1), m2: await open_tabs([c], m2),
                m3: await open_tabs([b, b], m3)}
        try:
            for u, t in tabs.items():
                await asyncio.to_thread(wait_presence, c, u, len(t))
            body = {"uids": [m3, "cl-mc-off", m1, m2], "topic": "news",
                    "contents": {"n": 1}}
            st, _, d = await asyncio.to_thread(ctl, c, "POST", "/multicast", None, body)
            assert st == 200 and d["topic"] == "success" and d["number"] == 3, (st, d)
            assert d["contents"] == [{"uid": m3, **success(2)},
                                     {"uid": "cl-mc-off", **OFFLINE},
                                     {"uid": m1, **success(2)},
                                     {"uid": m2, **success(1)}], d
            for u, t in tabs.items():
                for ws in t:
                    assert await recv_json(ws) == {"topic": "news", "number": 1,
                                                   "contents": {"n": 1}}, u
            st, _, d = await asyncio.to_thread(a.push, m1, "after", 0)
            assert st == 200 and d == success(2), d
            for ws in tabs[m1]:
                assert (await recv_json(ws))["number"] == 2
        finally:
            await close_tabs(*tabs.values())
    asyncio.run(go())


def test_broadcast_reaches_every_tab_on_every_host_once(cluster):
    a, b, c = cluster.hosts
    u1, u2, u3 = "cl-bc-1", "cl-bc-2", "cl-bc-3"

    async def go():
        tabs = {u1: await open_tabs([a, b], u1), u2: await open_tabs([c], u2),
                u3: await open_tabs([b, b], u3)}
        try:
            for u, t in tabs.items():
                await asyncio.to_thread(wait_presence, c, u, len(t))
            # Nothing else is connected (earlier tests' tabs are gone).
            for h, n in ((a, 1), (b, 3), (c, 1)):
                assert await asyncio.to_thread(
                    wait_until, lambda h=h, n=n: presence(h)["number"] == n, 5), \
                    (h.host, presence(h))
            st, _, d = await asyncio.to_thread(ctl, c, "POST", "/broadcast", None,
                                               {"topic": "all", "contents": [1, "x"]})
            # uids: distinct uids over all hosts (cl-bc-1 counts once).
            assert st == 200 and d == {"topic": "success", "number": 5,
                                       "contents": {"uids": 3, "connections": 5}}, (st, d)
            for u, t in tabs.items():
                for ws in t:
                    assert await recv_json(ws) == {"topic": "all", "number": 1,
                                                   "contents": [1, "x"]}, u
            for u, t in tabs.items():
                for ws in t:
                    await quiet(ws, 0.2)
            st, _, d = await asyncio.to_thread(b.push, u1, "next", 0)
            assert st == 200 and d == success(2), d
            for ws in tabs[u1]:
                assert (await recv_json(ws))["number"] == 2
        finally:
            await close_tabs(*tabs.values())
    asyncio.run(go())


def test_seed_examples_across_hosts(cluster):
    """The original's own clients, unchanged: the PHP /access example gets a key from
    host C, the browser client (in Node) subscribes on host A with it, and the PHP
    push example sends to host B; the tab gets the push and the answer counts it."""
    php_has_curl()
    a, b, c = cluster.hosts
    rc, out, err = php("seed_access.php", f"{c.host}:{c.http_port}", "cl-seed", c.password)
    assert rc == 0, (out, err)
    client = NodeClient(a, "cl-seed", out.strip(), max_messages=2)
    try:
        assert client.next_report() == {"topic": "系统", "contents": "连接", "kind": None}
        wait_presence(b, "cl-seed", 1)
        rc, out, err = php("seed_push.php", b.host, b.http_port, "cl-seed", b.password)
        assert rc == 0, (out, err)
        assert json.loads(out) == success(1)
        got = client.next_report()
        assert got["topic"] == "info_update" and got["contents"] == {"name": "张三", "age": 17}
    finally:
        client.close()


def test_ack_wait_across_hosts(cluster):
    """A push to host C that waits for an acknowledgement is answered when the tab on
    host A acknowledges it (well before the timeout), and at the timeout with
    acked:false when nobody does; the acknowledged position is the uid's, on every host."""
    a, b, c = cluster.hosts

    async def go():
        ws = await connect_at(a, "cl-ack", since="now")
        p0 = await position(ws)

        async def ack_next():
            m = await recv_json(ws)
            await ws.send(json.dumps({"ack": m["number"]}))
            return m["number"]

        acker = asyncio.ensure_future(ack_next())
        t0 = time.monotonic()
        st, _, data = await asyncio.to_thread(push, c, "cl-ack", "ack me", ack="1")
        took = time.monotonic() - t0
        n = await acker
        assert st == 200 and data["acked"] is True and data["seq"] == n, data
        assert took < 1.0, took
        t0 = time.monotonic()
        st, _, data = await asyncio.to_thread(push, c, "cl-ack", "nobody acks", ack="1")
        assert st == 200 and data["acked"] is False, data
        assert time.monotonic() - t0 >= c.cfg.get("push_timeout_ms", 2000) / 1000 * 0.9
        assert (await recv_json(ws))["number"] == n + 1
        await ws.close()
        again = await connect_at(b, "cl-ack", since="acked")
        p1 = await position(again)
        assert p1["epoch"] == p0["epoch"] and p1["acked"] == n, p1
        assert (await recv_json(again))["number"] == n + 1
        await again.close()
    asyncio.run(go())


def test_slow_redis_does_not_block_the_websocket_loop(cluster):
    """DEBUG SLEEP 1 on one shard: a push to one of its uids is slow or 503, and
    meanwhile the worker waiting for it (and the host's other worker) answers pings,
    takes a new WebSocket and delivers a push to a uid of the other shard at once."""
    a = cluster.hosts[0]

    async def go():
        tabs, where = {}, {}
        try:
            # Tabs until one worker holds uids of both shards.
            for i in range(40):
                u = f"cl-slow-{i}"
                tabs[u], where[u] = await open_classified(cluster, lambda u=u: a.connect(u))
                pair = same_worker_pair(where)
                if pair and len(tabs) >= 4:
                    break
            assert pair, where
            slow, fast = pair
            port = cluster.redis[where[slow]].port
            sleeper = threading.Thread(target=resp_command, args=(port, "DEBUG", "SLEEP", "1"))
            sleeper.start()
            await asyncio.sleep(0.05)

            def timed_push(u, contents):
                t0 = time.monotonic()
                st, _, d = a.push(u, "t", contents)
                return st, d, time.monotonic() - t0
            held = asyncio.create_task(asyncio.to_thread(timed_push, slow, "held"))
            await asyncio.sleep(0.15)
            pongs = {u: await pong_seconds(ws) for u, ws in tabs.items()}
            assert max(pongs.values()) < 0.3, pongs
            # A new tab of the other shard's uid, then a push to it: both tabs have it.
            t0 = time.monotonic()
            extra = await a.connect(fast)
            try:
                st, d, _ = await asyncio.to_thread(timed_push, fast, "quick")
                for ws in (tabs[fast], extra):
                    assert (await recv_json(ws, 2))["contents"] == "quick"
                took = time.monotonic() - t0
                assert st == 200 and d == success(2), (st, d)
                # /access, the handshake, /push and the frame: more than a ping.
                assert took < 0.5, took
            finally:
                await extra.close()
            st, d, took = await held
            await asyncio.to_thread(sleeper.join)
            assert (st == 200 and d == success(1) and took >= 0.5) or \
                (st == 503 and is_error_body(d)), (st, d, took)
            # Once the shard answers again every uid is pushed to as before; the held
            # push arrives when it was answered 200 (a 503 may say it is late: then it
            # may arrive too, once).
            for u, ws in tabs.items():
                assert (await asyncio.to_thread(push_ok, a, u, "after")) == success(1), u
                got = [m["contents"] for m in await drain(ws, 0.3)]
                if u == slow and st == 200:
                    assert got == ["held", "after"], got
                elif u == slow:
                    assert got in (["after"], ["held", "after"]), (got, d)
                elif u == fast:
                    assert got == ["after"], got
                else:
                    assert got == ["after"], (u, got)
        finally:
            await close_tabs(tabs.values())
    asyncio.run(go())


def channels(cluster):
    return [set(resp_command(r.port, "PUBSUB", "CHANNELS")) for r in cluster.redis]


async def open_classified(cluster, connect):
    """(tab, shard index): a tab of a uid no one holds yet, and the Redis server its
    subscription went to (the one where a pub/sub channel appeared): which shard a
    uid lives on, whatever the hashing and the channel names."""
    before = await asyncio.to_thread(channels, cluster)
    ws = await connect()
    new = []

    def landed():
        new[:] = [i for i, (b, n) in enumerate(zip(before, channels(cluster))) if n - b]
        return bool(new)
    assert await asyncio.to_thread(wait_until, landed, 5), "no new channel in Redis"
    assert len(new) == 1, new
    return ws, new[0]


def same_worker_pair(where):
    """(uid, uid) of one worker on different shards, or None."""
    for u in where:
        for v in where:
            if where[u] != where[v] and shard(u, 2) == shard(v, 2):
                return u, v
    return None


# -- faults, each on a cluster of its own ---------------------------------------

def test_redis_shard_down_then_back(tmp_path):
    """A shard killed: pushes to its uids answer 503 at once, the other shard's go
    on; every WebSocket stays open. Once it is back on its port (empty), pushes are
    delivered again: nothing refused is delivered late, nothing reaches another uid."""
    with Cluster(hosts=2, shards=2, strict_logs=False, push_timeout_ms=3000) as cl:
        a, b = cl.hosts

        async def go():
            tabs, where = {}, {}
            try:
                for i in range(40):
                    u = f"cl-down-{i}"
                    ws, where[u] = await open_classified(cl, lambda u=u: a.connect(u))
                    tabs[u] = [ws, await b.connect(u)]
                    if min(list(where.values()).count(k) for k in (0, 1)) >= 2:
                        break
                for u in tabs:
                    await asyncio.to_thread(wait_presence, a, u, 2)
                    assert (await asyncio.to_thread(push_ok, b, u, [u, "before"])) == \
                        success(2)
                cl.redis[1].stop()
                for u in tabs:
                    t0 = time.monotonic()
                    st, _, d = await asyncio.to_thread(a.push, u, "t", [u, "down"])
                    dt = time.monotonic() - t0
                    if where[u] == 1:
                        assert st == 503 and is_error_body(d), (u, st, d)
                        assert dt < 1.0, (u, dt)  # push_timeout_ms is 3 s
                    else:
                        assert st == 200 and d == success(2), (u, st, d)
                await asyncio.sleep(0.3)
                for u in tabs:
                    for ws in tabs[u]:
                        assert ws.close_code is None, (u, ws.close_code)
                        assert await pong_seconds(ws) < 0.5
                cl.redis[1].start()
                for u in tabs:
                    if where[u] == 1:
                        # Every host subscribed again before the push, or it would
                        # reach only some tabs.
                        assert await asyncio.to_thread(
                            wait_until, lambda u=u: presence_now(a, u) == 2, 15), u
                        st, d = await asyncio.to_thread(poll_push, a, u, [u, "back"], 15)
                        assert st == 200 and d == success(2), (u, st, d)
                for u in tabs:
                    got = [await drain(ws) for ws in tabs[u]]
                    want = [[u, "before"], [u, "back" if where[u] == 1 else "down"]]
                    for frames in got:
                        assert [m["contents"] for m in frames] == want, (u, frames)
                    assert [m["number"] for m in got[0]] == [m["number"] for m in got[1]]
            finally:
                await close_tabs(*tabs.values())
        asyncio.run(go())


def presence_now(host, uid):
    """GET /presence?uid's count, None when not answered 200 (Redis unreachable)."""
    st, _, d = ctl(host, "GET", "/presence", {"uid": uid})
    return d["number"] if st == 200 else None


def poll_push(host, uid, contents, timeout):
    """Pushes until the answer is no longer 503 (the daemons reconnect to Redis);
    each try carries the same contents, so only the answered one may arrive."""
    end = time.monotonic() + timeout
    while True:
        st, _, d = host.push(uid, "t", contents)
        if st != 503 or time.monotonic() > end:
            return st, d
        time.sleep(0.05)


def test_a_killed_host_drops_out(tmp_path):
    """kill -9 of host A's daemon: its tabs leave presence at once or within the
    gather wait, and pushes count the tabs left on the other hosts."""
    with Cluster(hosts=3, shards=2, strict_logs=False) as cl:
        a, b, c = cl.hosts
        uid, only_a = "cl-dead", "cl-dead-only-a"

        async def go():
            tabs = await open_tabs([a, a, b], uid)
            lone = await open_tabs([a], only_a)
            try:
                await asyncio.to_thread(wait_presence, c, uid, 3)
                await asyncio.to_thread(wait_presence, c, only_a, 1)
                st, _, d = await asyncio.to_thread(c.push, uid, "t", "before")
                assert st == 200 and d == success(3), d
                cl.kill_host(0)
                t0 = time.monotonic()
                assert await asyncio.to_thread(
                    wait_until, lambda: presence(c, uid)["number"] == 1, 5), presence(c, uid)
                assert time.monotonic() - t0 <= 1.5, time.monotonic() - t0
                assert (await asyncio.to_thread(presence_of, b, [uid, only_a]))["contents"] \
                    == {uid: 1, only_a: 0}
                st, _, d = await asyncio.to_thread(c.push, uid, "t", "after")
                assert st == 200 and d == success(1), d
                st, _, d = await asyncio.to_thread(b.push, only_a, "t", "after")
                assert st == 404 and d == OFFLINE, (st, d)
                assert [m["contents"] for m in await drain(tabs[2])] == ["before", "after"]
                for h in (b, c):
                    assert h.daemon.poll() is None
            finally:
                await close_tabs(tabs, lone)
        asyncio.run(go())


def test_a_shard_restarted_empty_starts_a_new_epoch(tmp_path):
    """The shard of uid E killed and started again empty: a tab resuming with E's old
    epoch is told recovered:false; E's connected resumable tab is closed with 1012
    when the new epoch's first message reaches it, and told recovered:false on
    reconnecting. A uid of the other shard keeps its stream. Nothing crashes."""
    with Cluster(hosts=2, shards=2, strict_logs=False) as cl:
        a, b = cl.hosts

        async def go():
            live, where = {}, {}
            for i in range(40):
                u = f"cl-empty-{i}"
                live[u], where[u] = await open_classified(
                    cl, lambda u=u: connect_at(a, u, since="now"))
                if len(set(where.values())) == 2:
                    break
            uid, other = list(where)[-1], list(where)[0]
            for u in list(live):
                if u not in (uid, other):
                    await live.pop(u).close()
            epochs = {u: (await position(live[u]))["epoch"] for u in (uid, other)}
            gone = await connect_at(b, uid, since="now")
            assert (await position(gone))["epoch"] == epochs[uid]
            for i in range(2):
                assert (await asyncio.to_thread(push_ok, b, uid, i)) == success(2)
                assert (await asyncio.to_thread(push_ok, b, other, i)) == success(1)
            for ws in (live[uid], gone, live[other]):
                assert await numbers(ws, 2) == ([1, 2], [0, 1])
            await gone.close()
            await asyncio.to_thread(wait_presence, b, uid, 1)
            cl.restart_shard(where[uid])
            # Resuming with the old epoch, once the daemons are connected again.
            end = time.monotonic() + 15
            while True:
                back = await connect_at(b, uid, since=2, epoch=epochs[uid])
                try:
                    p = await position(back)
                    break
                except (AssertionError, asyncio.TimeoutError, websockets.ConnectionClosed):
                    await back.close()
                    assert time.monotonic() < end, "no position after the restart"
                    await asyncio.sleep(0.2)
            try:
                assert not p["recovered"] and p["epoch"] != epochs[uid], p
                new_epoch = p["epoch"]
                st, d = await asyncio.to_thread(poll_push, a, uid, "new", 15)
                assert st == 200 and d["number"] >= 1, (st, d)
                assert [m["contents"] for m in await drain(back)] == ["new"]
                # The old epoch's tab is closed instead of getting the new epoch's
                # number 1 (which would look like a rewind).
                early = []
                try:
                    while True:
                        early.append(await recv_json(live[uid]))
                except websockets.ConnectionClosed:
                    pass
                assert live[uid].close_code == 1012 and early == [], \
                    (live[uid].close_code, early)
                again = await connect_at(a, uid, since=2, epoch=epochs[uid])
                p = await position(again)
                assert not p["recovered"] and p["epoch"] == new_epoch, p
                await again.close()
                # The other shard's uid: same epoch, same numbers, nothing closed.
                assert (await asyncio.to_thread(push_ok, a, other, 2)) == success(1)
                assert await numbers(live[other], 1) == ([3], [2])
                resumed = await connect_at(b, other, since=2, epoch=epochs[other])
                p = await position(resumed)
                assert (p["epoch"], p["recovered"], p["first"], p["last"]) == \
                    (epochs[other], True, 3, 3), p
                assert await numbers(resumed, 1) == ([3], [2])
                await resumed.close()
            finally:
                await close_tabs([back, live[other]])
            for h in cl.hosts:
                assert h.daemon.poll() is None
                await asyncio.to_thread(check_roundtrip, h, cl.hosts)
        asyncio.run(go())


def check_roundtrip(host, hosts):
    """A fresh uid, a tab on `host`, a push through every host."""
    async def go():
        uid = f"cl-alive-{host.host}"
        ws = await host.connect(uid)
        try:
            await asyncio.to_thread(wait_presence, hosts[0], uid, 1)
            for h in hosts:
                st, d = await asyncio.to_thread(poll_push, h, uid, h.host, 10)
                assert st == 200 and d == success(1), (h.host, st, d)
                assert (await recv_json(ws))["contents"] == h.host
        finally:
            await ws.close()
    asyncio.run(go())
