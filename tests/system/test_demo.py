# SPDX-License-Identifier: MIT
"""The demo page's gating: /demo/ and its password-less backend (/demo/api/key,
/demo/api/push) exist only with `demo: true` or `make run` (PUSH_DEMO=1) on a
loopback address, never in the packaged snippets; and what the backend answers.
(test_browser.py drives the page itself.)"""
import os
import signal
import subprocess

import pytest

from conftest import BIN, TOP, Service, is_error_body, recv_json, run, wait_until
from test_run_script import read_until

SNIPPETS = ["etc/lighttpd/push-service.conf", "etc/lighttpd/50-push-service.conf",
            "etc/apache2/push-service.conf", "etc/nginx/push-service.conf.in"]


def test_demo_off_everything_under_demo_is_404(make_service):
    svc = make_service()
    for method, path in (("GET", "/demo/"), ("GET", "/demo/index.html"),
                         ("GET", "/demo/lib/push-client.js"), ("GET", "/demo/api/key?uid=u"),
                         ("POST", "/demo/api/push?uid=u")):
        body = b'{"topic":"t","contents":1}' if method == "POST" else None
        st, _, data = svc.request(method, path, body=body,
                                  headers={"Content-Type": "application/json"})
        assert st == 404, (method, path, st, data)
        assert is_error_body(data), (path, data)


def test_demo_on_keys_and_pushes_without_the_password(make_service):
    svc = make_service(demo=True, history_size=10)
    st, hdrs, page = svc.request("GET", "/demo/")
    assert st == 200 and hdrs["content-type"].startswith("text/html"), (st, hdrs)
    assert b"push-service demo" in page
    for path in ("/demo/demo.js", "/demo/lib/push-client.js"):
        st, hdrs, _ = svc.request("GET", path)
        assert st == 200 and hdrs["content-type"].startswith("text/javascript"), (path, st, hdrs)

    st, _, data = svc.request("GET", "/demo/api/key", {"uid": "d-1"})
    assert st == 200 and data["topic"] == "_access", (st, data)

    async def go():
        ws = await svc.connect("d-1", key=data["contents"])
        try:
            def push():
                return svc.request("POST", "/demo/api/push", {"uid": "d-1"},
                                   body={"topic": "demo", "contents": {"x": 1}},
                                   headers={"Content-Type": "application/json"})
            assert wait_until(lambda: push()[0] == 200, 10)
            msg = await recv_json(ws)
            assert msg["topic"] == "demo" and msg["contents"] == {"x": 1}, msg
        finally:
            await ws.close()
    run(go())

    # The demo routes take one uid, no batches; the real ones still want the password.
    st, _, data = svc.request("POST", "/demo/api/push", body=[{"uid": "a", "topic": "t", "contents": 1}],
                              headers={"Content-Type": "application/json"})
    assert st == 400 and data["contents"] == "uid is missing", (st, data)
    st, hdrs, _ = svc.request("GET", "/demo/api/push", {"uid": "d-1"})
    assert st == 405 and hdrs["allow"] == "POST", (st, hdrs)
    assert svc.request("GET", "/access", {"uid": "d-1"})[0] == 401
    assert svc.push("d-1", password=False)[0] == 401
    assert svc.request("GET", "/demo/api/other")[0] == 404
    assert svc.request("GET", "/demo/api/key", {"uid": ""})[0] == 400


def test_packaged_snippets_never_mention_the_demo(tmp_path):
    for rel in SNIPPETS:
        with open(os.path.join(TOP, rel), encoding="utf-8") as f:
            assert "demo" not in f.read().lower(), rel
    # What the package writes as /etc/nginx/snippets/push-service.conf, even from
    # a configuration that turns the demo on.
    conf = tmp_path / "conf.yaml"
    conf.write_text('addr: "127.0.0.1:8080"\npassword: "x"\ndemo: true\n')
    out = subprocess.run([os.path.join(TOP, "scripts", "nginx-conf.sh"), "--include", str(conf), BIN],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    assert "demo" not in out.lower()


@pytest.mark.parametrize("script", ["lighttpd-conf.sh", "apache-conf.sh", "nginx-conf.sh"])
def test_make_run_flag_counts_on_loopback_only(tmp_path, script):
    """PUSH_DEMO=1 (what `make run` sets) adds the demo to the private server's
    config only when addr is a loopback address; `demo: true` always does."""
    def generated(addr, env_demo, demo=False):
        conf = tmp_path / "conf.yaml"
        conf.write_text(f'addr: "{addr}"\npassword: "x"\nrun_dir: "{tmp_path}/run"\n'
                        + ("demo: true\n" if demo else ""))
        env = dict(os.environ)
        env.pop("PUSH_DEMO", None)
        if env_demo:
            env["PUSH_DEMO"] = "1"
        out = subprocess.run([os.path.join(TOP, "scripts", script), str(conf), BIN],
                             capture_output=True, text=True, env=env, timeout=30)
        assert out.returncode == 0, out.stderr
        text = out.stdout
        demo_conf = tmp_path / "run" / "nginx-demo.conf"
        if script == "nginx-conf.sh" and "nginx-demo.conf" in text:
            text += demo_conf.read_text()
        return "/demo/api/(key|push)" in text
    assert generated("127.0.0.1:8080", True)
    assert generated("[::1]:8080", True)
    assert not generated("127.0.0.1:8080", False)
    assert not generated("0.0.0.0:8080", True)
    assert not generated("192.0.2.1:8080", True)
    assert generated("0.0.0.0:8080", False, demo=True)


def test_make_run_serves_the_demo_on_loopback(tmp_path):
    """scripts/run.sh (make run) with a loopback addr: the banner names the demo
    page, which answers; PUSH_DEMO=0 leaves it out."""
    for flag in ("1", "0"):
        os.makedirs(tmp_path / flag)
        svc = Service(str(tmp_path / flag))
        env = dict(os.environ, PUSH_DEMO=flag)
        proc = subprocess.Popen(["sh", os.path.join(TOP, "scripts", "run.sh"), svc.conf, BIN,
                                 "lighttpd"], cwd=svc.dir, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True,
                                env=env)
        try:
            out = read_until(proc, "push service on http://")
            assert "push service on http://" in out, out
            st, _, data = svc.request("GET", "/demo/api/key", {"uid": "run-demo"})
            if flag == "1":
                out += read_until(proc, "demo page:", timeout=5)
                assert f"demo page: http://127.0.0.1:{svc.http_port}/demo/" in out, out
                assert st == 200 and data["topic"] == "_access", (st, data)
                assert svc.request("GET", "/demo/")[0] == 200
            else:
                assert st == 404, (st, data)
            os.killpg(proc.pid, signal.SIGINT)
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
