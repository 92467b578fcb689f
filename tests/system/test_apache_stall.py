# SPDX-License-Identifier: MIT
"""Apache without stalls: Debian's Apache 2.4 holds a worker thread for each proxied
WebSocket for its whole life (no asynchronous tunnelling in 2.4's mod_proxy_http or
mod_proxy_wstunnel), so with Debian's mpm_event defaults (MaxRequestWorkers 150) 150
WebSockets used to leave no thread for /push. The snippet caps the WebSockets each
child proxies (PUSH_SERVICE_WS_MAX, below ThreadsPerChild); here 500 WebSockets come
at once through Apache with Debian's own MPM settings, and /push still answers within
a second, while the WebSockets over the cap are refused at once with the JSON 503."""
import asyncio
import base64
import json
import os
import re
import shutil
import tempfile
import time
import urllib.parse

import pytest

from conftest import Service, is_error_body, split_response, wait_until

DEBIAN_MPM = "/etc/apache2/mods-available/mpm_event.conf"
N_WS = 500
WS_MAX = 20  # the snippet's PUSH_SERVICE_WS_MAX


class DebianMpmService(Service):
    """The private Apache of the system tests, with its MPM sizing replaced by
    Debian's mpm_event.conf and so the snippet's default PUSH_SERVICE_WS_MAX."""

    def _web_conf(self, script):
        conf = super()._web_conf(script)
        text = open(conf).read()
        text, n = re.subn(r"(?ms)^# mpm_event sizing \(begin\).*?^# mpm_event sizing \(end\)$",
                          f'Include "{DEBIAN_MPM}"', text)
        assert n == 1, "no MPM sizing block in the generated config"
        with open(conf, "w") as f:
            f.write(text)
        return conf


async def handshake(port, target):
    """Opens a WebSocket handshake; (status, body, writer) with the connection kept
    open when it upgraded (101)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
    status = int(head.split()[1])
    if status == 101:
        return status, b"", writer
    body = b""
    try:
        body = await asyncio.wait_for(reader.read(4096), 5)
    except asyncio.TimeoutError:
        pass
    writer.close()
    _, body = split_response(head + body)
    return status, body, None


@pytest.mark.skipif(not os.path.exists(DEBIAN_MPM), reason=f"needs Debian's {DEBIAN_MPM}")
def test_500_websockets_through_debian_apache_leave_push_answering():
    svc = DebianMpmService(tempfile.mkdtemp(prefix="push-stall."), "apache")
    try:
        svc.start()
        key = svc.access("crowd")
        target = "/ws?" + urllib.parse.urlencode({"uid": "crowd", "access_key": key})

        mpm = dict(re.findall(r"(?m)^\s*(\w+)\s+(\d+)\s*$", open(DEBIAN_MPM).read()))
        children = int(mpm["MaxRequestWorkers"]) // int(mpm["ThreadsPerChild"])
        cap = children * WS_MAX

        async def go():
            writers, refused = [], []
            t0 = time.monotonic()
            try:
                # All at once; those refused come back like a browser reconnecting,
                # while Apache starts children (at most `children`) as threads run low.
                attempts = N_WS
                while True:
                    results = await asyncio.gather(*(handshake(svc.http_port, target)
                                                     for _ in range(attempts)))
                    writers += [w for _, _, w in results if w is not None]
                    refused = [(st, body) for st, body, w in results if w is None]
                    for st, body in refused:
                        assert st == 503 and is_error_body(json.loads(body)), (st, body)
                    if not refused or len(writers) >= cap or time.monotonic() - t0 > 12:
                        break
                    attempts = len(refused)
                    await asyncio.sleep(0.2)
                opened = time.monotonic() - t0
                assert wait_until(lambda: svc.push("crowd", "_probe", None)[2]["number"]
                                  == len(writers), 10), "upgraded WebSockets not all online"

                # With every WebSocket Apache took held open: /push and /access answer.
                t1 = time.monotonic()
                st, _, data = await asyncio.to_thread(svc.push, "crowd", "t", "still here")
                push_s = time.monotonic() - t1
                assert st == 200 and data["number"] == len(writers), (st, data)
                assert push_s < 1.0, f"/push took {push_s:.2f} s with {len(writers)} WebSockets"
                t1 = time.monotonic()
                await asyncio.to_thread(svc.access, "someone-else")
                access_s = time.monotonic() - t1
                assert access_s < 1.0, f"/access took {access_s:.2f} s"
                print(f"\n{N_WS} WebSockets through Debian's mpm_event ({children} children x "
                      f"{WS_MAX}): {len(writers)} upgraded within {opened:.1f} s, "
                      f"{len(refused)} still refused (503); /push {push_s * 1000:.0f} ms, "
                      f"/access {access_s * 1000:.0f} ms")
                # The cap holds, and Apache's children fill up to it.
                assert cap - WS_MAX <= len(writers) <= cap, (len(writers), cap)
            finally:
                for w in writers:
                    w.close()
            # A cap reached is no error state: once they have gone, WebSockets come in.
            end = time.monotonic() + 10
            while True:
                st, _, w = await handshake(svc.http_port, target)
                if w is not None:
                    w.close()
                    break
                assert time.monotonic() < end, f"no WebSocket after the crowd left: {st}"
                await asyncio.sleep(0.05)

        asyncio.run(go())
    finally:
        svc.stop()
        shutil.rmtree(svc.dir, ignore_errors=True)
