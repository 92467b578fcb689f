"""Logs are levelled lines and never carry secrets: neither the password nor any
access key appears in the daemon's or the web server's logs, whatever clients do."""
import asyncio

import websockets

from conftest import push_until_delivered, recv_json


def test_no_secrets_in_logs(make_service):
    svc = make_service(password="Very-Secret-PW-42", log_level="debug")
    keys = []

    async def go():
        key = svc.access("log-user")
        keys.append(key)
        ws = await svc.connect("log-user", key)
        try:
            await asyncio.to_thread(push_until_delivered, svc, "log-user", "t", 1)
            await recv_json(ws)
        finally:
            await ws.close()
        # Failures log too: a tampered key, a wrong password, a Bearer header.
        bad = key[:-1] + ("A" if key[-1] != "A" else "B")
        keys.append(bad)
        stale = await websockets.connect(svc.ws_url("log-user", bad), ping_interval=None)
        await recv_json(stale)
        await stale.close()
        svc.push("log-user", "t", 1, password="Wrong-PW-Guess")
        svc.push("log-user", "t", 1, password=False,
                 headers={"Authorization": "Bearer Very-Secret-PW-42"})
    asyncio.run(go())
    svc.stop()
    logs = svc.read_log(svc.daemon_log) + svc.read_log(svc.web_log)
    assert "connect uid=log-user" in logs  # the logs are there and say something
    for secret in ["Very-Secret-PW-42", "Wrong-PW-Guess", *keys, keys[0].split(".")[-1]]:
        assert secret not in logs, f"secret {secret[:6]}... found in the logs"
    for line in svc.read_log(svc.daemon_log).splitlines():
        assert " ws-daemon[" in line and any(
            f"] {lvl}: " in line for lvl in ("error", "warn", "notice", "info", "debug")), line
