# SPDX-License-Identifier: MIT
"""The control API: who is online (/presence), closing a uid's tabs and revoking its
keys (/kick), one message to many uids (/multicast) and to everyone (/broadcast), across
several workers; a stopped worker makes a partial answer that says so, never a silent
undercount; bad input gets the same statuses as /push."""
import asyncio
import json
import os
import signal
import time

import websockets

from conftest import is_error_body, push_until_delivered, recv_json, wait_until
from test_workers import uids_of_workers, worker_pid

JSON = {"Content-Type": "application/json"}
KICK_CODE, KICK_REASON = 4000, "kicked"


def ctl(svc, method, path, query=None, body=None, password=None, headers=None):
    """A control request with the password as a Bearer token (query: extra parameters)."""
    h = {"Authorization": f"Bearer {password or svc.password}"}
    if body is not None:
        h.update(JSON)
    h.update(headers or {})
    return svc.request(method, path, query, body=body, headers=h)


def presence(svc, uid=None):
    st, _, d = ctl(svc, "GET", "/presence", {"uid": uid} if uid is not None else None)
    assert st == 200, (st, d)
    return d


def presence_of(svc, uids):
    st, _, d = ctl(svc, "POST", "/presence", body=uids)
    assert st == 200, (st, d)
    return d


def until_connections(svc, uid, n, timeout=10.0):
    """Until GET /presence?uid= says n: a tab counts once its handshake is through."""
    assert wait_until(lambda: presence(svc, uid)["number"] == n, timeout), \
        (uid, n, presence(svc, uid))


async def open_tabs(svc, tabs):
    """{uid: [websocket, ...]} for {uid: count}, each uid warmed up with one push
    (number 1) so every tab's next message is number 2."""
    conns = {}
    for uid, n in tabs.items():
        conns[uid] = [await svc.connect(uid) for _ in range(n)]
        await asyncio.to_thread(until_connections, svc, uid, n)
        st, _, d = await asyncio.to_thread(svc.push, uid, "warm", 0)
        assert st == 200 and d["number"] == n, (uid, st, d)
        for ws in conns[uid]:
            assert (await recv_json(ws))["number"] == 1
    return conns


async def close_all(conns):
    for tabs in conns.values():
        for ws in tabs:
            await ws.close()


async def closed_with(ws, timeout=10.0):
    """(code, reason) of the server's Close, after any frames still on the way."""
    await asyncio.wait_for(ws.wait_closed(), timeout)
    return ws.close_code, ws.close_reason


def test_presence_of_one_many_and_totals(make_service):
    svc = make_service(workers=3)
    owners = uids_of_workers(3, 2, "pr")
    tabs = {owners[0][0]: 2, owners[0][1]: 1, owners[1][0]: 3, owners[2][0]: 1}

    async def go():
        conns = await open_tabs(svc, tabs)
        try:
            for uid, n in tabs.items():
                assert presence(svc, uid) == {"topic": "presence", "number": n,
                                              "contents": {"uid": uid, "connections": n}}
            away = owners[2][1]
            assert presence(svc, away) == {"topic": "presence", "number": 0,
                                           "contents": {"uid": away, "connections": 0}}
            # The password in the query works as for /push.
            st, _, d = svc.request("GET", "/presence",
                                   {"uid": away, "password": svc.password})
            assert st == 200 and d["contents"]["connections"] == 0, d
            # Many at once, in the order given; a uid given twice appears once.
            ask = [owners[1][0], away, owners[0][0], "nobody-here", owners[1][0]]
            d = presence_of(svc, ask)
            assert d == {"topic": "presence", "number": 2,
                         "contents": {owners[1][0]: 3, away: 0, owners[0][0]: 2,
                                      "nobody-here": 0}}, d
            assert list(d["contents"]) == [owners[1][0], away, owners[0][0], "nobody-here"]
            assert presence(svc) == {"topic": "presence", "number": 7,
                                     "contents": {"connections": 7, "uids": 4}}
            await conns[owners[1][0]][0].close()
            await asyncio.to_thread(until_connections, svc, owners[1][0], 2)
            assert presence(svc)["contents"] == {"connections": 6, "uids": 4}
        finally:
            await close_all(conns)
        await asyncio.to_thread(wait_until, lambda: presence(svc)["number"] == 0)
        assert presence(svc) == {"topic": "presence", "number": 0,
                                 "contents": {"connections": 0, "uids": 0}}
    asyncio.run(go())


def test_kick_closes_every_tab_of_the_uid(make_service):
    svc = make_service(workers=3)
    target, other = "kick-me", "stay-on"

    async def go():
        key = await asyncio.to_thread(svc.access, target)
        conns = await open_tabs(svc, {other: 1})
        conns[target] = [await svc.connect(target, key) for _ in range(3)]
        try:
            await asyncio.to_thread(until_connections, svc, target, 3)
            st, _, d = await asyncio.to_thread(ctl, svc, "POST", "/kick", {"uid": target})
            assert st == 200 and d == {"topic": "success", "number": 3,
                                       "contents": "kicked"}, (st, d)
            for ws in conns[target]:
                assert await closed_with(ws) == (KICK_CODE, KICK_REASON)
            await asyncio.to_thread(until_connections, svc, target, 0)
            # Nobody else is touched.
            st, _, d = await asyncio.to_thread(svc.push, other, "still", 1)
            assert st == 200 and d["number"] == 1, d
            assert (await recv_json(conns[other][0]))["topic"] == "still"
            # A uid with no connection: 0 closed, not an error.
            st, _, d = await asyncio.to_thread(ctl, svc, "POST", "/kick", {"uid": target})
            assert st == 200 and d == {"topic": "success", "number": 0,
                                       "contents": "kicked"}, (st, d)
            # Without revoke the same key still gets in.
            again = await svc.connect(target, key)
            conns[target] = [again]
            await asyncio.to_thread(push_until_delivered, svc, target, "back", 2)
            assert (await recv_user_topic(again, "back"))["contents"] == 2
        finally:
            await close_all(conns)
    asyncio.run(go())


async def recv_user_topic(ws, topic, timeout=10.0):
    """The next message with this topic (earlier ones skipped)."""
    end = time.monotonic() + timeout
    while True:
        msg = await recv_json(ws, max(0.01, end - time.monotonic()))
        if msg.get("topic") == topic:
            return msg


async def refused_as_revoked(svc, uid, key):
    """A connection with a revoked key: one error frame, then Close 1008."""
    ws = await websockets.connect(svc.ws_url(uid, key), ping_interval=None)
    try:
        msg = await recv_json(ws)
        assert msg == {"topic": "error", "number": 0, "contents": "access_key was revoked"}, msg
        code, _ = await closed_with(ws)
        assert code == 1008, code
    finally:
        await ws.close()


def test_kick_with_revoke_refuses_old_keys(make_service):
    svc = make_service(workers=3)
    uid, quiet = "revoke-me", "revoke-offline"

    async def go():
        old = await asyncio.to_thread(svc.access, uid)
        old_quiet = await asyncio.to_thread(svc.access, quiet)
        tabs = [await svc.connect(uid, old) for _ in range(2)]
        await asyncio.to_thread(until_connections, svc, uid, 2)
        # At the start of a second, so a key fetched right after the kick is
        # (almost always) issued in the kick's second.
        await asyncio.sleep(int(time.time()) + 1.01 - time.time())
        asked_at = time.time()
        st, _, d = await asyncio.to_thread(ctl, svc, "POST", "/kick",
                                           {"uid": uid, "revoke": "1"})
        assert st == 200 and d == {"topic": "success", "number": 2, "contents": "kicked",
                                   "revoked": True}, (st, d)
        for ws in tabs:
            assert await closed_with(ws) == (KICK_CODE, KICK_REASON)
        # The tab reconnecting with its old key is refused; so is a key issued in
        # the same second as the kick.
        await refused_as_revoked(svc, uid, old)
        same_second = await asyncio.to_thread(svc.access, uid)
        if int(time.time()) == int(asked_at):  # kick and key in one second
            await refused_as_revoked(svc, uid, same_second)
        # A uid with no connection is revoked all the same (0 closed).
        st, _, d = await asyncio.to_thread(ctl, svc, "POST", "/kick",
                                           {"uid": quiet, "revoke": "true"})
        assert st == 200 and d == {"topic": "success", "number": 0, "contents": "kicked",
                                   "revoked": True}, (st, d)
        await refused_as_revoked(svc, quiet, old_quiet)
        # A key fetched in a later second works.
        await asyncio.sleep(max(0.0, int(time.time()) + 1.05 - time.time()))
        fresh = await asyncio.to_thread(svc.access, uid)
        ws = await svc.connect(uid, fresh)
        try:
            await asyncio.to_thread(until_connections, svc, uid, 1)
            st, _, d = await asyncio.to_thread(svc.push, uid, "welcome-back", 1)
            assert st == 200 and d["number"] == 1, d
            assert (await recv_json(ws))["topic"] == "welcome-back"
        finally:
            await ws.close()
    asyncio.run(go())


def test_multicast_to_uids_on_every_worker(make_service):
    svc = make_service(workers=3)
    owners = uids_of_workers(3, 2, "mc")
    uids = [u for w in range(3) for u in owners[w]]
    tabs = {u: 1 for u in uids}
    tabs[uids[0]] = 2

    async def go():
        conns = await open_tabs(svc, tabs)
        try:
            body = {"uids": uids[::-1] + ["mc-offline", ""], "topic": "news",
                    "contents": {"n": 1, "s": "三"}}
            st, _, d = await asyncio.to_thread(ctl, svc, "POST", "/multicast", None, body)
            assert st == 200 and d["topic"] == "success" and d["number"] == 6, (st, d)
            r = d["contents"]
            assert [x["uid"] for x in r] == uids[::-1] + ["mc-offline", ""]
            for x in r[:6]:
                assert x == {"uid": x["uid"], "topic": "success", "number": tabs[x["uid"]],
                             "contents": "推送成功"}, x
            assert r[6] == {"uid": "mc-offline", "topic": "error", "number": 0,
                            "contents": "此用户不在线"}
            assert r[7] == {"uid": "", "topic": "error", "number": 0,
                            "contents": "uid is missing"}
            # Each uid's numbers continue its own sequence, the same on every tab.
            for u in uids:
                for ws in conns[u]:
                    msg = await recv_json(ws)
                    assert msg == {"topic": "news", "number": 2,
                                   "contents": {"n": 1, "s": "三"}}, (u, msg)
            st, _, d = await asyncio.to_thread(ctl, svc, "POST", "/multicast", None,
                                               {"uids": uids[:3], "topic": "again",
                                                "contents": None})
            assert st == 200 and d["number"] == 3, d
            for u in uids[:3]:
                for ws in conns[u]:
                    assert (await recv_json(ws))["number"] == 3
            st, _, d = await asyncio.to_thread(svc.push, uids[5], "after", 0)
            assert st == 200, d
            assert (await recv_json(conns[uids[5]][0]))["number"] == 3
        finally:
            await close_all(conns)
    asyncio.run(go())


def test_multicast_to_the_most_uids(make_service):
    """IPC_MAX_ITEMS uids in one body: one answer per uid, in order."""
    svc = make_service(workers=3, max_message_bytes=131072)
    uids = [f"many-{i:04d}-" + "x" * 80 for i in range(1024)]
    online = uids[::400]

    async def go():
        conns = await open_tabs(svc, {u: 1 for u in online})
        try:
            body = {"uids": uids, "topic": "t", "contents": 1}
            st, _, d = await asyncio.to_thread(ctl, svc, "POST", "/multicast", None, body)
            assert st == 200 and d["number"] == len(online), (st, str(d)[:300])
            assert [x["uid"] for x in d["contents"]] == uids
            for x in d["contents"]:
                want = "推送成功" if x["uid"] in online else "此用户不在线"
                assert x["contents"] == want and "status" not in x, x
            for u in online:
                assert (await recv_json(conns[u][0]))["number"] == 2
        finally:
            await close_all(conns)
    asyncio.run(go())


def test_broadcast_reaches_every_tab(make_service):
    svc = make_service(workers=3)
    owners = uids_of_workers(3, 2, "bc")
    tabs = {owners[0][0]: 2, owners[0][1]: 1, owners[1][0]: 1, owners[1][1]: 3,
            owners[2][0]: 1}

    async def go():
        conns = await open_tabs(svc, tabs)
        try:
            st, _, d = await asyncio.to_thread(ctl, svc, "POST", "/broadcast", None,
                                               {"topic": "all", "contents": [1, "x"]})
            assert st == 200 and d == {"topic": "success", "number": 8,
                                       "contents": {"uids": 5, "connections": 8}}, (st, d)
            for u, tabs_of in conns.items():
                for ws in tabs_of:
                    msg = await recv_json(ws)
                    assert msg == {"topic": "all", "number": 2, "contents": [1, "x"]}, (u, msg)
            st, _, d = await asyncio.to_thread(svc.push, owners[1][1], "next", 0)
            assert st == 200 and d["number"] == 3, d
            assert (await recv_json(conns[owners[1][1]][0]))["number"] == 3
        finally:
            await close_all(conns)
        # Nobody connected: nobody reached, not an error.
        await asyncio.to_thread(wait_until, lambda: presence(svc)["number"] == 0)
        st, _, d = await asyncio.to_thread(ctl, svc, "POST", "/broadcast", None,
                                           {"topic": "void", "contents": 0})
        assert st == 200 and d == {"topic": "success", "number": 0,
                                   "contents": {"uids": 0, "connections": 0}}, (st, d)
    asyncio.run(go())


def test_a_stopped_worker_makes_partial_answers(make_service):
    """Worker 1 stopped: answers summed over workers say partial and name it, per-uid
    answers of its uids are 503 (nothing done); once it runs again the late requests
    are dropped, not acted on."""
    svc = make_service(workers=3, push_timeout_ms=500)
    owners = uids_of_workers(3, 2, "st")
    stopped = 1
    uids = [u for w in range(3) for u in owners[w]]
    mine = owners[stopped]

    async def go():
        conns = await open_tabs(svc, {u: 1 for u in uids})
        pid = worker_pid(svc, stopped)
        os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.to_thread(check_partial, svc, uids, mine, stopped)
        finally:
            os.kill(pid, signal.SIGCONT)
        # Nothing of what the stopped worker got late was done: its tabs are still
        # open, and their next message is the next push.
        await asyncio.to_thread(until_connections, svc, mine[0], 1)
        for u in mine:
            st, _, d = await asyncio.to_thread(svc.push, u, "after", 0)
            assert st == 200 and d["number"] == 1, (u, d)
            assert await recv_json(conns[u][0]) == {"topic": "after", "number": 2,
                                                    "contents": 0}
        for u in uids:
            if u not in mine:
                topics = [(await recv_json(conns[u][0]))["topic"] for _ in range(2)]
                assert topics == ["mc", "bc"], (u, topics)
        await close_all(conns)
    asyncio.run(go())
    m = svc.metrics()
    # Each request that met the stopped worker counts once as daemon_unavailable.
    assert m['push_api_refused_total{reason="daemon_unavailable"}'] >= 6


def check_partial(svc, uids, mine, stopped):
    d = presence(svc)
    assert d == {"topic": "presence", "number": 4,
                 "contents": {"connections": 4, "uids": 4},
                 "partial": True, "workers_missing": [stopped]}, d
    d = presence_of(svc, uids)
    assert d["number"] == 4 and d["partial"] is True and d["workers_missing"] == [stopped], d
    assert d["contents"] == {u: (None if u in mine else 1) for u in uids}, d
    t0 = time.monotonic()
    st, _, d = ctl(svc, "GET", "/presence", {"uid": mine[0]})
    assert st == 503 and is_error_body(d), (st, d)
    assert d["contents"] == "push daemon did not answer in time", d
    assert time.monotonic() - t0 < 3, "one timeout, not more"
    st, _, d = ctl(svc, "POST", "/kick", {"uid": mine[0]})
    assert st == 503 and is_error_body(d), (st, d)
    st, _, d = ctl(svc, "POST", "/multicast", body={"uids": uids, "topic": "mc",
                                                    "contents": 1})
    assert st == 200 and d["number"] == 4, (st, d)
    for x in d["contents"]:
        if x["uid"] in mine:
            assert x["topic"] == "error" and x["status"] == 503 and x["number"] == 0, x
        else:
            assert x == {"uid": x["uid"], "topic": "success", "number": 1,
                         "contents": "推送成功"}, x
    st, _, d = ctl(svc, "POST", "/broadcast", body={"topic": "bc", "contents": 2})
    assert st == 200 and d == {"topic": "success", "number": 4,
                               "contents": {"uids": 4, "connections": 4},
                               "partial": True, "workers_missing": [stopped]}, (st, d)


def expect(svc, want, method, path, query=None, body=None, ctype="application/json",
           password=None, contains=None):
    h = {"Content-Type": ctype} if ctype else {}
    h["Authorization"] = f"Bearer {password or svc.password}"
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    st, hdrs, d = svc.request(method, path, query, body=body, headers=h)
    assert st == want and is_error_body(d), (method, path, query, st, d)
    if contains:
        assert contains in d["contents"], (method, path, d)
    return hdrs


def test_bad_input_is_refused_like_push(make_service):
    svc = make_service(workers=3)
    big = svc.conf_value("max_message_bytes")
    over = b'{"uids":["' + b"a" * int(big) + b'"],"topic":"t","contents":1}'
    refused = {400: 0, 401: 0, 405: 0, 413: 0, 415: 0}

    def exp(want, *a, **kw):
        refused[want] += 1
        return expect(svc, want, *a, **kw)

    # 405 with the methods each path takes.
    assert exp(405, "PUT", "/presence")["allow"] == "GET, POST"
    for path in ("/kick", "/multicast", "/broadcast"):
        assert exp(405, "GET", path)["allow"] == "POST"
    # 401: wrong, missing (query and Bearer alike).
    for method, path in (("GET", "/presence"), ("POST", "/presence"), ("POST", "/kick"),
                         ("POST", "/multicast"), ("POST", "/broadcast")):
        exp(401, method, path, {"uid": "x"}, password="wrong")
    st, _, d = svc.request("GET", "/presence")
    refused[401] += 1
    assert st == 401 and is_error_body(d), (st, d)
    # 400: the uid rule in the query.
    exp(400, "GET", "/presence", {"uid": ""}, contains="uid is missing")
    exp(400, "GET", "/presence", {"uid": "a\x01"}, contains="control characters")
    exp(400, "POST", "/kick", contains="uid is missing")
    exp(400, "POST", "/kick", {"uid": "x", "revoke": "yes"}, contains="revoke must be 0 or 1")
    exp(400, "POST", "/kick", {"uid": "x"}, body=b'{"uid":"x"}', contains="no body")
    exp(415, "POST", "/kick", {"uid": "x"}, body=b"uid=x",
        ctype="application/x-www-form-urlencoded")
    # 400: bodies of the wrong shape.
    for body, why in ((b"[1", "not valid JSON"), (b"{}", "array of 1 to 1024 uids"),
                      (b"[]", "array of 1 to 1024 uids"),
                      (b'["a",2]', "uid at index 1: uid must be a string"),
                      (b'["a","\\u0007"]', "uid at index 1: uid contains control"),
                      (json.dumps(["u"] * 1025).encode(), "array of 1 to 1024 uids")):
        exp(400, "POST", "/presence", body=body, contains=why)
    exp(400, "POST", "/presence", {"uid": "x"}, body=b'["x"]', contains="in the body")
    for body, why in ((b"[1", "not valid JSON"), (b"[]", "must be a JSON object"),
                      (b'{"topic":"t","contents":1}', 'lacks "uids"'),
                      (b'{"uids":"a","topic":"t","contents":1}', "array of 1 to 1024 uids"),
                      (b'{"uids":[],"topic":"t","contents":1}', "array of 1 to 1024 uids"),
                      (json.dumps({"uids": ["u"] * 1025, "topic": "t", "contents": 1}).encode(),
                       "array of 1 to 1024 uids"),
                      (b'{"uids":["a"],"contents":1}', 'lacks "topic"'),
                      (b'{"uids":["a"],"topic":1,"contents":1}', '"topic" must be a string'),
                      (b'{"uids":["a"],"topic":"t"}', 'lacks "contents"'),
                      (b'{"uids":["a"],"topic":"t","contents":1,"ack":true}',
                       "ack is not supported for multicast")):
        exp(400, "POST", "/multicast", body=body, contains=why)
    for body, why in ((b"nope", "not valid JSON"), (b'{"contents":1}', 'lacks "topic"'),
                      (b'{"topic":"t"}', 'lacks "contents"'),
                      (b'{"topic":"t","contents":1,"ack":false}',
                       "ack is not supported for broadcast")):
        exp(400, "POST", "/broadcast", body=body, contains=why)
    # 415 and 413 as for /push.
    for path in ("/presence", "/multicast", "/broadcast"):
        exp(415, "POST", path, body=b'["a"]', ctype="text/plain")
        exp(413, "POST", path, body=over)
    # A per-uid problem in a multicast is that item's answer, not a 400.
    st, _, d = ctl(svc, "POST", "/multicast", body={"uids": ["ok", 7, "a" * 300],
                                                    "topic": "t", "contents": 1})
    assert st == 200 and [x["contents"] for x in d["contents"]] == \
        ["此用户不在线", "uid must be a string", "uid is too long"], d
    assert d["contents"][1]["uid"] == ""
    m = svc.metrics()
    for status, reason in ((400, "bad_request"), (401, "unauthorized"),
                           (405, "method_not_allowed"), (413, "too_large"),
                           (415, "unsupported_media_type")):
        assert m[f'push_api_refused_total{{reason="{reason}"}}'] == refused[status], \
            (reason, m[f'push_api_refused_total{{reason="{reason}"}}'], refused[status])
