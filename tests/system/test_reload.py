"""Configuration reload: SIGHUP to ws-daemon (push-api follows the file by itself)
rotates password and key secret without dropping connections; a bad file changes nothing."""
import asyncio
import signal
import time

import websockets

from conftest import is_error_body, push_until_delivered, recv_json

RELOAD_WAIT = 1.2  # push-api looks at the file at most once a second


def wait_log(path_reader, needle, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if needle in path_reader():
            return True
        time.sleep(0.05)
    return False


def test_sighup_rotates_password_and_secret_keeping_connections(make_service):
    svc = make_service(password="old-pw")

    async def go():
        ws = await svc.connect("keeper")
        old_key = svc.access("other-user")
        try:
            await asyncio.to_thread(push_until_delivered, svc, "keeper", "t", 0)
            await recv_json(ws)
            svc.write_conf(password="new-pw", key_secret="fresh-secret")
            svc.daemon.send_signal(signal.SIGHUP)
            assert wait_log(lambda: svc.read_log(svc.daemon_log), "configuration reloaded")
            await asyncio.sleep(RELOAD_WAIT)

            st, _, data = await asyncio.to_thread(svc.push, "keeper", "t", 1, password="old-pw")
            assert st == 401 and is_error_body(data), (st, data)
            st, _, data = await asyncio.to_thread(svc.push, "keeper", "t", 2, password="new-pw")
            assert st == 200 and data["number"] == 1, (st, data)
            msg = await recv_json(ws)  # the connection made before the reload is kept
            assert msg["contents"] == 2, msg

            # A key signed with the old secret no longer opens a WebSocket.
            stale = await websockets.connect(svc.ws_url("other-user", old_key), ping_interval=None)
            try:
                err = await recv_json(stale)
                assert err["topic"] == "error" and "not valid" in err["contents"], err
            finally:
                await stale.close()
            st, _, data = await asyncio.to_thread(
                svc.request, "GET", "/access", {"uid": "u2", "password": "new-pw"})
            assert st == 200, data
        finally:
            await ws.close()
    asyncio.run(go())


def test_invalid_config_on_reload_changes_nothing(make_service):
    svc = make_service(password="steady-pw")

    async def go():
        ws = await svc.connect("steady")
        try:
            await asyncio.to_thread(push_until_delivered, svc, "steady", "t", 0,
                                    password="steady-pw")
            await recv_json(ws)
            svc.write_conf(password="", max_uid_bytes=0)
            svc.daemon.send_signal(signal.SIGHUP)
            assert wait_log(lambda: svc.read_log(svc.daemon_log), "reload refused")
            await asyncio.sleep(RELOAD_WAIT)
            st, _, data = await asyncio.to_thread(svc.push, "steady", "t", 1, password="steady-pw")
            assert st == 200, (st, data)
            assert (await recv_json(ws))["contents"] == 1
            assert svc.daemon.poll() is None
        finally:
            await ws.close()
    asyncio.run(go())
