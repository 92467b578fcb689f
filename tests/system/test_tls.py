# SPDX-License-Identifier: MIT
"""TLS end to end through the web server: /access and /push over https, /ws over
wss, with a self-signed certificate made for the test. The daemon stays plain
behind the web server on loopback."""
import asyncio
import os
import shutil
import ssl
import subprocess
import tempfile

import pytest
import websockets

from conftest import push_until_delivered, raw_exchange, recv_json


@pytest.fixture(scope="module")
def cert():
    d = tempfile.mkdtemp(prefix="push-tls.")
    os.chmod(d, 0o755)
    crt, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", crt], check=True, capture_output=True)
    os.chmod(key, 0o644)  # Apache reads it before dropping to www-data; lighttpd as root
    yield crt, key
    shutil.rmtree(d, ignore_errors=True)


def test_https_and_wss_end_to_end(make_service, cert):
    svc = make_service(tls_cert=cert[0], tls_key=cert[1])

    async def go():
        ws = await svc.connect("tls-user")  # wss:// with a key fetched over https://
        try:
            st, _, data = await asyncio.to_thread(push_until_delivered, svc, "tls-user",
                                                  "secure", {"n": 1})
            assert data == {"topic": "success", "number": 1, "contents": "推送成功"}
            msg = await recv_json(ws)
            assert msg == {"topic": "secure", "number": 1, "contents": {"n": 1}}
        finally:
            await ws.close()
    asyncio.run(go())


def test_tls_port_is_really_tls(make_service, cert):
    """A client that does not trust the certificate fails the handshake, and plain
    HTTP on the port gets no API answer."""
    svc = make_service(tls_cert=cert[0], tls_key=cert[1])

    async def go():
        # The system's trust store does not hold the test's self-signed certificate:
        # the TLS handshake itself must fail on certificate verification.
        with pytest.raises(ssl.SSLCertVerificationError) as refused:
            await websockets.connect(svc.ws_url("x", "k"), ssl=ssl.create_default_context(),
                                     open_timeout=30)
        assert refused.value.verify_message == "self-signed certificate", refused.value
        # Trusting exactly that certificate, the same handshake succeeds.
        ws = await websockets.connect(svc.ws_url("x", svc.access("x")), ssl=svc.ssl_context(),
                                      open_timeout=30, ping_interval=None)
        await ws.close()
    asyncio.run(go())
    raw = raw_exchange(svc.http_port,
                       f"GET /access?uid=x&password={svc.password} HTTP/1.1\r\nHost: x\r\n"
                       "Connection: close\r\n\r\n".encode(), timeout=5)
    assert b'"_access"' not in raw and not raw.startswith(b"HTTP/1.1 200"), raw[:200]


def test_tls_cert_needs_its_key(make_service, cert):
    from conftest import BIN
    d = tempfile.mkdtemp(prefix="push-tls-conf.")
    try:
        conf = os.path.join(d, "c.yaml")
        with open(conf, "w") as f:
            f.write(f"password: x\ntls_cert: {cert[0]}\n")
        r = subprocess.run([os.path.join(BIN, "ws-daemon"), "-c", conf, "-t"],
                           capture_output=True, text=True)
        assert r.returncode == 1 and "'tls_cert' and 'tls_key' go together" in r.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)
