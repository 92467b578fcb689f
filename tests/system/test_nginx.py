"""nginx in front of the service: one push-api pool shared by several web servers
(no request waits on a FastCGI connection another one holds), and the snippet in
a host's own server block, under a prefix, claiming only its own paths."""
import asyncio
import concurrent.futures
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest
import websockets

from conftest import BIN, TOP, free_port, is_error_body, port_open, recv_json, run, wait_until

# Each test names the web servers it runs itself.
pytestmark = pytest.mark.parametrize("web", ["nginx"])

BURST = 32      # requests in flight at once, through each web server
POOL = 4        # push-api processes, shared
# Far below nginx's 60 s upstream timeout that a pinned connection runs into, and
# far above what 64 requests to /access take on a loaded machine.
ANSWERED_WITHIN = 10.0


class ExtraWeb:
    """A second web server on its own port, in front of an existing service's push-api
    pool (fcgi_addr) and ws-daemon: a copy of conf.yaml with another addr and run_dir."""

    def __init__(self, svc, web, port):
        self.web, self.port = web, port
        self.dir = tempfile.mkdtemp(prefix=f"push-{web}.")
        os.chmod(self.dir, 0o755)  # the web server's workers run as www-data as root
        cfg = dict(svc.cfg, addr=f"127.0.0.1:{port}", run_dir=os.path.join(self.dir, "run"))
        self.conf = os.path.join(self.dir, "conf.yaml")
        with open(self.conf, "w") as f:
            for k, v in cfg.items():
                f.write(f"{k}: {json.dumps(v) if isinstance(v, str) else v}\n")
        self.log = os.path.join(self.dir, f"{web}.log")
        self.proc = None

    def start(self):
        conf = os.path.join(self.dir, f"{self.web}.conf")
        script = "nginx-conf.sh" if self.web == "nginx" else "apache-conf.sh"
        with open(conf, "w") as f:
            subprocess.run([os.path.join(TOP, "scripts", script), self.conf, BIN],
                           stdout=f, check=True)
        if self.web == "nginx":
            argv = ["nginx", "-e", "stderr", "-p", os.path.join(self.dir, "run", "nginx"),
                    "-c", conf]
        else:
            argv = ["apache2", "-DFOREGROUND", "-f", conf]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log, cwd=self.dir)
        if not wait_until(lambda: port_open(self.port) or self.proc.poll() is not None, 30) \
                or self.proc.poll() is not None:
            raise RuntimeError(f"{self.web} did not start:\n" + open(self.log).read())

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def get(port, path, timeout):
    """(status, parsed JSON) of one GET on its own connection, kept open until the
    answer is read."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def burst(pool, port, password, tag):
    """BURST concurrent /access requests through the web server on port."""
    return [pool.submit(get, port, f"/access?uid={tag}-{i}&password={password}",
                        ANSWERED_WITHIN + 5) for i in range(BURST)]


@pytest.mark.parametrize("partner", ["nginx", "apache"])
def test_web_servers_sharing_one_pool_never_wait_on_each_other(make_service, partner):
    """nginx and a second web server (another nginx, or Apache) in front of one pool of
    4 push-api processes: 32 requests at once through nginx, then at once through
    the other, then 32 through each together; every one is answered, quickly. (A
    kept FastCGI connection pins a push-api process to the web server holding it:
    with nginx's fastcgi_keep_conn 28 of 32 waited for its 60 s timeout.)"""
    svc = make_service(fcgi_procs=POOL)
    other = ExtraWeb(svc, partner, free_port_for(svc))
    try:
        other.start()
        with concurrent.futures.ThreadPoolExecutor(2 * BURST) as pool:
            for rounds in ([svc.http_port], [other.port], [svc.http_port, other.port]):
                t0 = time.monotonic()
                futs = [f for port in rounds
                        for f in burst(pool, port, svc.password, f"p{port}")]
                for f in futs:
                    st, data = f.result()
                    assert st == 200 and data["topic"] == "_access", (st, data)
                took = time.monotonic() - t0
                assert took < ANSWERED_WITHIN, (rounds, took)
        assert svc.web_alive() and other.proc.poll() is None
    finally:
        other.stop()


def free_port_for(svc):
    port = free_port()
    while port in (svc.http_port, svc.ws_port, svc.fcgi_port):
        port = free_port()
    return port


HOST_CONF = """daemon off;
worker_processes 1;
pid {run}/host.pid;
error_log stderr warn;
events {{ worker_connections 256; }}
http {{
	access_log off;
	client_body_temp_path {run}/body;
	proxy_temp_path {run}/proxy;
	fastcgi_temp_path {run}/fastcgi;
	uwsgi_temp_path {run}/uwsgi;
	scgi_temp_path {run}/scgi;
	server {{
		listen 127.0.0.1:{port};
		default_type text/plain;
		error_page 404 /host-404;
		error_page 413 /host-413;
		location = /host-404 {{ internal; return 404 "host 404\\n"; }}
		location = /host-413 {{ internal; return 413 "host 413\\n"; }}
		location = / {{ return 200 "host page\\n"; }}
		location / {{ client_max_body_size 10; return 404; }}
		include {snippet};
	}}
}}
"""


def test_snippet_under_a_prefix_claims_only_its_paths(make_service, tmp_path):
    """The snippet written with --include --prefix /push-service/, included in a host's
    own server block (its own pages and error pages): the service answers under the
    prefix, in full; the root paths, other paths under the prefix and the host's error
    pages stay the host's."""
    svc = make_service()
    os.chmod(tmp_path, 0o755)
    snippet = tmp_path / "push-service.conf"
    with open(snippet, "w") as f:
        subprocess.run([os.path.join(TOP, "scripts", "nginx-conf.sh"), "--include",
                        "--prefix", "/push-service/", svc.conf, BIN], stdout=f, check=True)
    port = free_port_for(svc)
    conf = tmp_path / "host.conf"
    conf.write_text(HOST_CONF.format(run=tmp_path, port=port, snippet=snippet))
    log = tmp_path / "host.log"
    with open(log, "ab") as lf:
        proc = subprocess.Popen(["nginx", "-e", "stderr", "-p", str(tmp_path), "-c", str(conf)],
                                stdout=lf, stderr=lf)
    try:
        assert wait_until(lambda: port_open(port) or proc.poll() is not None, 30) \
            and proc.poll() is None, log.read_text()

        def req(method, path, body=None, headers=None):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                c.request(method, path, body=body, headers=headers or {})
                r = c.getresponse()
                return r.status, r.getheader("Content-Type"), r.read()
            finally:
                c.close()

        q = f"uid=42&password={svc.password}"
        st, _, body = req("GET", f"/push-service/access?{q}")
        assert st == 200 and json.loads(body)["topic"] == "_access", (st, body)
        key = json.loads(body)["contents"]
        for path in ("/push-service/health", f"/push-service/metrics?password={svc.password}"):
            assert req("GET", path)[0] == 200, path
        # The service's own errors under the prefix: push-api's, and nginx's (a body
        # on /ws) in the service's JSON shape.
        st, _, body = req("POST", f"/push-service/push?{q}", b"{}",
                          {"Content-Type": "application/json"})
        assert st == 400 and is_error_body(json.loads(body)), (st, body)
        st, ctype, body = req("GET", "/push-service/ws", b"x" * 20)
        assert st == 413 and ctype.startswith("application/json") \
            and is_error_body(json.loads(body)), (st, ctype, body)

        async def subscribe_and_receive():
            ws = await websockets.connect(
                f"ws://127.0.0.1:{port}/push-service/ws?uid=42&access_key={key}",
                ping_interval=None)
            try:
                def push():
                    end = time.monotonic() + 10
                    while True:
                        st, _, body = req("POST", f"/push-service/push?{q}",
                                          json.dumps({"topic": "via-prefix", "contents": 1}),
                                          {"Content-Type": "application/json"})
                        if st == 200 or time.monotonic() > end:
                            return st, body
                        time.sleep(0.02)
                st, body = await asyncio.to_thread(push)
                assert st == 200, (st, body)
                assert (await recv_json(ws))["topic"] == "via-prefix"
            finally:
                await ws.close()
        run(subscribe_and_receive())

        # Everything else stays the host's: its page, its 404 and 413 pages.
        assert req("GET", "/") == (200, "text/plain", b"host page\n")
        for path in ("/access", "/push", "/ws", "/metrics", "/health", "/push-service/",
                     "/push-service/other", "/push-service/ws/x", "/x/push-service/ws"):
            assert req("GET", path) == (404, "text/plain", b"host 404\n"), path
        assert req("POST", "/push", b"x" * 100) == (413, "text/plain", b"host 413\n")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
