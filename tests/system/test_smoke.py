# SPDX-License-Identifier: MIT
"""Smoke test of the whole path: /access, /ws through lighttpd, /push, delivery."""
import json

from conftest import run


def test_access_ws_push_roundtrip(service):
    async def go():
        ws = await service.connect("smoke-user")
        try:
            assert service.wait_online("smoke-user") == 1
            st, _, data = service.push("smoke-user", "hello", {"a": [1, "二", None]})
            assert st == 200
            assert data == {"topic": "success", "number": 1, "contents": "推送成功"}
            while True:
                msg = json.loads(await ws.recv())
                if msg["topic"] != "_probe":
                    break
            assert msg["topic"] == "hello"
            assert msg["contents"] == {"a": [1, "二", None]}
        finally:
            await ws.close()
    run(go())
