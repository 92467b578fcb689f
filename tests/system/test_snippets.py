# SPDX-License-Identifier: MIT
"""The web-server snippets as an administrator uses them: included, unmodified, in a
host that serves pages of its own, mounted under a prefix (/push-service/). The
service answers on its own paths only, with its JSON errors there; the host's pages
and error documents stay the host's."""
import asyncio
import json
import os
import shutil
import tempfile

import pytest
import websockets

from conftest import BIN, TOP, Service, is_error_body, recv_json, wait_until

PREFIX = "/push-service/"
HOST_PAGE = b"the host's own page\n"


class HostService(Service):
    """A host server of its own (document root, default error pages) that includes
    the repository's snippet with the prefix, as /etc/... would."""

    def _web_conf(self, script):
        www = os.path.join(self.dir, "www")
        os.makedirs(www, exist_ok=True)
        with open(os.path.join(www, "index.html"), "wb") as f:
            f.write(HOST_PAGE)
        run = self.conf_value("run_dir")
        path = os.path.join(self.dir, f"host-{self.web}.conf")
        if self.web == "apache":
            user = "User www-data\nGroup www-data\n" if os.geteuid() == 0 else ""
            mods = "\n".join(f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so"
                             for m in ("mpm_event", "authz_core", "alias", "headers", "proxy",
                                       "proxy_fcgi", "proxy_http", "mime", "dir"))
            text = f"""ServerRoot "/etc/apache2"
ServerName localhost
PidFile "{run}/apache2.pid"
DefaultRuntimeDir "{run}"
Mutex file:{run} default
Listen 127.0.0.1:{self.http_port}
{mods}
{user}ErrorLog {self.dir}/apache-error.log
TypesConfig /etc/mime.types
DocumentRoot "{www}"
<Directory "{www}">
	Require all granted
</Directory>
Define PUSH_SERVICE_PREFIX {PREFIX}
Define PUSH_SERVICE_WS {self.cfg["ws_addr"]}
Define PUSH_SERVICE_API {self.cfg["fcgi_addr"]}
Include "{TOP}/etc/apache2/push-service.conf"
"""
        else:
            host, port = self.cfg["ws_addr"].rsplit(":", 1)
            text = f"""server.bind = "127.0.0.1"
server.port = {self.http_port}
server.document-root = "{www}"
server.modules += ( "mod_fastcgi", "mod_proxy", "mod_staticfile" )
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html" )
var.push_service_prefix = "{PREFIX}"
var.push_service_ws_host = "{host}"
var.push_service_ws_port = {port}
var.push_service_ws_idle = 150
var.push_service_api = "{os.path.join(BIN, "push-api")}"
var.push_service_conf = "{self.conf}"
var.push_service_socket = "{self.conf_value("fcgi_socket")}"
var.push_service_procs = 2
var.push_service_errors = "{TOP}/etc/lighttpd/errors"
include "{TOP}/etc/lighttpd/push-service.conf"
"""
        with open(path, "w") as f:
            f.write(text)
        return path


# lighttpd's and Apache's snippets here; nginx's is included in a host's server block
# by test_nginx.py::test_snippet_under_a_prefix_claims_only_its_paths.
pytestmark = pytest.mark.parametrize("web", ["lighttpd", "apache"])


@pytest.fixture
def host(web):
    svc = HostService(tempfile.mkdtemp(prefix="push-host."), web)
    try:
        yield svc.start()
    finally:
        svc.stop()
        shutil.rmtree(svc.dir, ignore_errors=True)


def test_prefix_mount_serves_the_whole_flow(host):
    st, _, data = host.request("GET", PREFIX + "access", {"uid": "pfx", "password": host.password})
    assert st == 200 and data["topic"] == "_access", (st, data)

    async def go():
        ws = await websockets.connect(host.ws_url("pfx", data["contents"], path=PREFIX + "ws"),
                                      ping_interval=None)
        try:
            def pushed():
                st, _, d = host.request("POST", PREFIX + "push", {"uid": "pfx"},
                                        body={"topic": "t", "contents": "under a prefix"},
                                        headers={"Content-Type": "application/json",
                                                 "Authorization": "Bearer " + host.password})
                return st == 200 and d["number"] == 1
            assert await asyncio.to_thread(wait_until, pushed, 10)
            msg = await recv_json(ws)
            assert msg["topic"] == "t" and msg["contents"] == "under a prefix", msg
        finally:
            await ws.close()
    asyncio.run(go())
    st, _, data = host.request("GET", PREFIX + "metrics", {"password": host.password})
    assert st == 200 and b"push_connections" in data


def test_host_keeps_its_pages_and_error_documents(host):
    st, _, body = host.request("GET", "/")
    assert st == 200 and body == HOST_PAGE, (st, body)
    # Not the service's paths: the host's own 404, not the service's JSON.
    for path in ("/other", "/access", "/push", "/ws", PREFIX + "other", PREFIX + "accessx"):
        st, hdrs, body = host.request("GET", path)
        assert st == 404, (path, st)
        assert not is_error_body(body) and "json" not in hdrs.get("content-type", ""), \
            (path, hdrs, body[:200])
    # The service's own paths: JSON errors, from push-api and from the web server.
    st, _, body = host.request("GET", PREFIX + "push")
    assert st == 405 and is_error_body(body), (st, body)
    st, hdrs, body = host.request("POST", PREFIX + "push", {"uid": "x", "password": host.password},
                                  body=b"x" * 400_000,
                                  headers={"Content-Type": "application/json"})
    assert st == 413 and is_error_body(body), (st, hdrs, body)
    assert hdrs["content-type"].startswith("application/json"), hdrs
