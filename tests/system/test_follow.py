# SPDX-License-Identifier: MIT
"""push-api follows ws-daemon, not conf.yaml: an edited file changes nothing until
the daemon reloads it (SIGHUP), then /push and /access use the daemon's values; a
reload the daemon refuses changes nothing either; restart-only keys stay."""
import asyncio
import signal
import time

from conftest import push_until_delivered, recv_json
from test_workers import uids_of_workers

WINDOW = 1.5  # longer than push-api's old once-a-second look at the file


def wait_log(svc, needle, count=1, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if svc.read_log(svc.daemon_log).count(needle) >= count:
            return True
        time.sleep(0.05)
    return False


def status_until(fn, want, timeout=10.0):
    """Calls fn() (returning an HTTP status) until it gives want; the last status."""
    end = time.monotonic() + timeout
    while True:
        st = fn()
        if st == want or time.monotonic() > end:
            return st
        time.sleep(0.02)


def access_status(svc, uid, password):
    return svc.request("GET", "/access", {"uid": uid, "password": password})[0]


async def end_to_end(svc, uid, password):
    """/access, WebSocket and /push with this password, for this uid."""
    ws = await svc.connect(uid, key=await asyncio.to_thread(svc.access, uid, password))
    try:
        st, _, d = await asyncio.to_thread(push_until_delivered, svc, uid, "e2e", uid,
                                           password=password)
        assert d["number"] == 1, d
        msg = await recv_json(ws)
        assert msg["topic"] == "e2e" and msg["contents"] == uid, msg
    finally:
        await ws.close()


def test_password_edit_waits_for_the_daemon(make_service):
    svc = make_service(workers=3, password="pw-one")
    uids = [u for us in uids_of_workers(3, 1, "fa").values() for u in us]
    svc.write_conf(password="pw-two")
    # No HUP: the daemon runs pw-one, and so does push-api, for the whole window.
    end = time.monotonic() + WINDOW
    while time.monotonic() < end:
        assert access_status(svc, "fa-probe", "pw-two") == 401
        assert svc.push("fa-probe", "t", 0, password="pw-one")[0] == 404
    for u in uids:  # keys issued now work on every worker, end to end
        asyncio.run(end_to_end(svc, u, "pw-one"))

    svc.daemon.send_signal(signal.SIGHUP)
    assert status_until(lambda: svc.push("fa-probe", "t", 0, password="pw-two")[0], 404) == 404
    assert status_until(lambda: access_status(svc, "fa-probe", "pw-one"), 401) == 401
    assert status_until(lambda: svc.push("fa-probe", "t", 0, password="pw-one")[0], 401) == 401
    for u in uids:  # keys issued after the reload work on every worker
        asyncio.run(end_to_end(svc, u, "pw-two"))
    for _ in range(10):  # and the old password stays refused, in every push-api process
        assert access_status(svc, "fa-probe", "pw-one") == 401
        assert svc.push("fa-probe", "t", 0, password="pw-one")[0] == 401


def test_reload_the_daemon_refuses_changes_nothing(make_service):
    svc = make_service(workers=3, password="pw-keep")
    uids = [u for us in uids_of_workers(3, 1, "fb").values() for u in us]
    asyncio.run(end_to_end(svc, uids[0], "pw-keep"))
    svc.write_conf(password="pw-typo", max_uid_bytes=0)  # out of range: refused
    svc.daemon.send_signal(signal.SIGHUP)
    assert wait_log(svc, "reload refused"), svc.read_log(svc.daemon_log)[-2000:]
    end = time.monotonic() + WINDOW
    while time.monotonic() < end:
        assert access_status(svc, "fb-probe", "pw-typo") == 401
        assert svc.push("fb-probe", "t", 0, password="pw-keep")[0] == 404
    for u in uids:
        asyncio.run(end_to_end(svc, u, "pw-keep"))


def test_ipc_socket_edit_keeps_pushes_working(make_service):
    svc = make_service(workers=3)
    uids = [u for us in uids_of_workers(3, 1, "fc").values() for u in us]
    svc.write_conf(ipc_socket="run/elsewhere.sock")
    end = time.monotonic() + WINDOW
    while time.monotonic() < end:
        assert svc.push("fc-probe", "t", 0)[0] == 404
    for u in uids:
        asyncio.run(end_to_end(svc, u, svc.password))
    # A reload keeps the daemon's socket (restart-only), and push-api its own.
    svc.write_conf(ipc_socket="run/elsewhere.sock", access_key_ttl=120)
    svc.daemon.send_signal(signal.SIGHUP)
    assert wait_log(svc, "reloaded from", count=1), \
        svc.read_log(svc.daemon_log)[-2000:]
    for u in uids:
        asyncio.run(end_to_end(svc, u, svc.password))
    assert svc.metrics()['push_api_refused_total{reason="daemon_unavailable"}'] == 0
