# SPDX-License-Identifier: MIT
"""Configuration reload: SIGHUP to ws-daemon's main process. The supervisor reads
conf.yaml, every worker (and every worker restarted later) runs what it accepted,
a rotated secret keeps the keys it signed until they expire, and a bad file or a
restart-only key changes nothing."""
import asyncio
import os
import re
import signal
import time

import websockets

from conftest import is_error_body, push_until_delivered, recv_json, wait_until
from test_workers import shard


def worker_pid(svc, index):
    """The pid of worker `index` (0-based) now: the last start line it logged."""
    found = re.findall(r"ws-daemon\[(\d+)\] notice: ws-daemon \S+ worker (\d+) of ",
                       svc.read_log(svc.daemon_log))
    pids = [int(p) for p, i in found if int(i) == index]
    assert pids, "worker %d never started" % index
    return pids[-1]


def reload(svc, **changes):
    """Writes the changes and HUPs the daemon; waits for its verdict in the log."""
    before = svc.read_log(svc.daemon_log).count("reloaded from")
    refused = svc.read_log(svc.daemon_log).count("reload refused")
    svc.write_conf(**changes)
    svc.daemon.send_signal(signal.SIGHUP)
    assert wait_until(lambda: svc.read_log(svc.daemon_log).count("reloaded from") > before or
                      svc.read_log(svc.daemon_log).count("reload refused") > refused)
    return svc.read_log(svc.daemon_log).count("reloaded from") > before


def await_status(svc, uid, want, password, timeout=10.0):
    """Pushes until the status is `want`: push-api takes up a reload on its next
    exchange with the daemon, not at once."""
    end = time.monotonic() + timeout
    while True:
        st, _, data = svc.push(uid, "_probe", None, password=password)
        if st == want or time.monotonic() > end:
            return st, data
        time.sleep(0.05)


async def refusal(svc, uid, key):
    """The error frame a WebSocket with this key gets (then the close 1008)."""
    ws = await websockets.connect(svc.ws_url(uid, key), ping_interval=None)
    try:
        err = await recv_json(ws)
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert ws.close_code == 1008, ws.close_code
        return err
    finally:
        await ws.close()


async def opens(svc, uid, key):
    """The key opens a WebSocket that receives a push."""
    ws = await websockets.connect(svc.ws_url(uid, key), ping_interval=None)
    try:
        st, _, data = await asyncio.to_thread(push_until_delivered, svc, uid, "t", "hello",
                                              password=svc.cfg["password"])
        assert st == 200, (st, data)
        msg = await recv_json(ws)
        assert msg["contents"] == "hello", msg
    finally:
        await ws.close()


def test_sighup_rotates_password_and_secret_keeping_connections(make_service):
    svc = make_service(password="old-pw")

    async def go():
        ws = await svc.connect("keeper")
        minted_before = svc.access("other-user")
        try:
            await asyncio.to_thread(push_until_delivered, svc, "keeper", "t", 0)
            await recv_json(ws)
            assert reload(svc, password="new-pw", key_secret="fresh-secret")
            st, data = await asyncio.to_thread(await_status, svc, "keeper", 401, "old-pw")
            assert st == 401 and is_error_body(data), (st, data)
            st, _, data = await asyncio.to_thread(svc.push, "keeper", "t", 2, password="new-pw")
            assert st == 200 and data["number"] >= 1, (st, data)
            while (msg := await recv_json(ws))["topic"] == "_probe":
                pass
            assert msg["contents"] == 2, msg  # the connection made before is kept
            # A key minted just before the rotation lives out its own expiry ...
            await opens(svc, "other-user", minted_before)
            # ... and keys minted after it are signed with the new secret.
            await opens(svc, "u2", svc.access("u2", password="new-pw"))
        finally:
            await ws.close()
    asyncio.run(go())


def test_rotation_with_no_grace_revokes_old_keys(make_service):
    svc = make_service(password="pw-1")

    async def go():
        old = svc.access("alice")
        assert reload(svc, key_secret="second-secret", key_rotation_grace=0)
        err = await refusal(svc, "alice", old)
        assert err == {"topic": "error", "number": 0,
                       "contents": "access_key was signed with a secret no longer in use"}, err
        await opens(svc, "alice", svc.access("alice"))
    asyncio.run(go())


def test_respawned_worker_runs_the_reloaded_config(make_service):
    """Finding: a worker restarted after a crash ran the start-up config, so in its
    shard keys of the old secret worked again and new keys failed."""
    svc = make_service(password="pw", workers=2, key_secret="first", key_rotation_grace=0)
    uid = next(u for u in (f"user-{i}" for i in range(100)) if shard(u, 2) == 1)

    async def go():
        old = svc.access(uid)
        assert reload(svc, key_secret="second")
        victim = worker_pid(svc, 1)
        svc_log_starts = svc.read_log(svc.daemon_log).count("worker 1 of 2")
        os.kill(victim, signal.SIGKILL)
        assert wait_until(lambda: svc.read_log(svc.daemon_log).count("worker 1 of 2") >
                          svc_log_starts, timeout=10)
        assert worker_pid(svc, 1) != victim
        await opens(svc, uid, svc.access(uid))
        err = await refusal(svc, uid, old)
        assert "no longer in use" in err["contents"], err
    asyncio.run(go())


def test_refusal_reasons_are_truthful(make_service):
    svc = make_service(access_key_ttl=1)

    async def go():
        bob = svc.access("bob")
        err = await refusal(svc, "alice", bob)
        assert err["contents"] == "access_key was issued for another uid", err
        tampered = bob[:-1] + ("A" if bob[-1] != "A" else "B")
        err = await refusal(svc, "bob", tampered)
        assert err["contents"] == "access_key has a bad signature", err
        expiry = int(bob.split(".")[1])
        await asyncio.sleep(max(0.0, expiry + 1.05 - time.time()))  # the key's own expiry
        err = await refusal(svc, "bob", bob)
        assert err["contents"] == "access_key has expired", err
    asyncio.run(go())


def test_invalid_config_on_reload_changes_nothing(make_service):
    svc = make_service(password="steady-pw")

    async def go():
        ws = await svc.connect("steady")
        try:
            await asyncio.to_thread(push_until_delivered, svc, "steady", "t", 0,
                                    password="steady-pw")
            await recv_json(ws)
            assert not reload(svc, password="", max_uid_bytes=0)
            assert "reload refused, the running configuration stays" in \
                svc.read_log(svc.daemon_log)
            st, _, data = await asyncio.to_thread(svc.push, "steady", "t", 1, password="steady-pw")
            assert st == 200, (st, data)
            assert (await recv_json(ws))["contents"] == 1
            await opens(svc, "fresh", svc.access("fresh", password="steady-pw"))
            assert svc.daemon.poll() is None
        finally:
            await ws.close()
    asyncio.run(go())


def test_restart_only_keys_are_kept(make_service):
    svc = make_service(workers=2)
    old_ws = svc.cfg["ws_addr"]

    async def go():
        assert reload(svc, workers=3, ws_addr="127.0.0.1:1", ipc_socket="elsewhere.sock",
                      log_level="debug")
        log = svc.read_log(svc.daemon_log)
        assert "'workers' changes only on restart; keeping 2" in log
        assert f"'ws_addr' changes only on restart; keeping {old_ws}" in log
        assert "'ipc_socket' changes only on restart" in log
        await opens(svc, "carol", svc.access("carol"))
        await opens(svc, "dave", svc.access("dave"))
    asyncio.run(go())
