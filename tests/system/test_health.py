# SPDX-License-Identifier: MIT
"""GET /health for load balancers: no password, no data; 200 while every ws-daemon
worker answers, 503 as soon as one does not; and the build in /metrics."""
import os
import re
import signal

from conftest import is_error_body, wait_until


def worker_pids(svc):
    with open(f"/proc/{svc.daemon.pid}/task/{svc.daemon.pid}/children") as f:
        return [int(p) for p in f.read().split()]


def test_health(make_service):
    svc = make_service(workers=2, push_timeout_ms=300)
    st, _, data = svc.request("GET", "/health")
    assert st == 200 and data == {"topic": "health", "number": 2, "contents": "ok"}, data
    st, hdrs, _ = svc.request("POST", "/health", body=b"")
    assert st == 405 and hdrs["allow"] == "GET, HEAD"
    stopped = worker_pids(svc)[0]
    os.kill(stopped, signal.SIGSTOP)
    try:
        st, _, data = svc.request("GET", "/health")
        assert st == 503 and is_error_body(data), (st, data)
    finally:
        os.kill(stopped, signal.SIGCONT)
    assert wait_until(lambda: svc.request("GET", "/health")[0] == 200)
    svc.stop_daemon()
    st, _, data = svc.request("GET", "/health")
    assert st == 503 and is_error_body(data), (st, data)


def test_build_info_in_metrics(make_service):
    svc = make_service()
    version = open(os.path.join(os.path.dirname(__file__), "..", "..", "shared",
                                "version.h")).read()
    want = re.search(r'#define PUSH_VERSION "([^"]+)"', version).group(1)
    assert svc.metrics()[f'push_build_info{{version="{want}"}}'] == 1
