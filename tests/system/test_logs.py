# SPDX-License-Identifier: MIT
"""Logs are levelled lines and never carry secrets: neither the password, the
key_secret nor any access key appears in the daemon's, push-api's or the web
server's logs, whatever clients do."""
import asyncio
import signal

import websockets

from conftest import push_until_delivered, recv_json, wait_until

LEVELS = ("error", "warn", "notice", "info", "debug")


def push_api_log(svc):
    """push-api's own log: with Apache and nginx the pool's stderr (push-api.log in the
    service directory); with lighttpd its FastCGI children's stderr, which lighttpd's
    error log (here its stderr) carries."""
    if svc.web in ("apache", "nginx"):
        return svc.read_log(f"{svc.dir}/push-api.log")
    return "\n".join(line for line in svc.read_log(svc.web_log).splitlines()
                     if " push-api[" in line)


def test_no_secrets_in_logs(make_service):
    svc = make_service(password="Very-Secret-PW-42", key_secret="Key-Secret-One-77",
                       log_level="debug")
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

    # A new key_secret: the daemon reloads on SIGHUP, push-api follows the daemon
    # (and logs that it did). Keys issued with it must not show up either.
    followed = push_api_log(svc).count("following ws-daemon's configuration")
    svc.write_conf(key_secret="Key-Secret-Two-88")
    svc.daemon.send_signal(signal.SIGHUP)
    assert wait_until(lambda: "reloaded from" in svc.read_log(svc.daemon_log), 30), \
        svc.read_log(svc.daemon_log)[-2000:]
    # push-api takes it up on its next exchange with the daemon.
    def reloaded_after_a_request():
        keys.append(svc.access("log-user"))
        return push_api_log(svc).count("following ws-daemon's configuration") > followed
    assert wait_until(reloaded_after_a_request, 30, step=0.2), push_api_log(svc)[-2000:]
    keys.append(svc.access("log-user-2"))
    # The daemon gone: push-api logs the failed push.
    svc.stop_daemon()
    st, _, _ = svc.push("log-user", "t", 1)
    assert st == 503
    svc.stop_web()

    daemon_log, api_log = svc.read_log(svc.daemon_log), push_api_log(svc)
    logs = daemon_log + svc.read_log(svc.web_log) + api_log
    # The logs are there and say something.
    assert "connect uid=log-user" in daemon_log
    assert "following ws-daemon's configuration" in api_log and \
        "push to ws-daemon" in api_log and "failed" in api_log, api_log
    assert len(keys) > 3
    secrets = ["Very-Secret-PW-42", "Wrong-PW-Guess", "Key-Secret-One-77", "Key-Secret-Two-88"]
    for key in keys:
        secrets += [key, key.split(".")[-1]]  # the whole key, and its signature alone
    for secret in secrets:
        assert secret not in logs, f"secret {secret[:6]}... found in the logs"
    for name, text, prog in (("ws-daemon", daemon_log, " ws-daemon["),
                             ("push-api", api_log, " push-api[")):
        lines = text.splitlines()
        assert lines, f"{name} logged nothing"
        for line in lines:
            assert prog in line and any(f"] {lvl}: " in line for lvl in LEVELS), (name, line)

