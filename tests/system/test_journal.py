# SPDX-License-Identifier: MIT
"""Operator conventions. Under systemd (stderr is the stream JOURNAL_STREAM names) every line starts with
the syslog priority, so `journalctl -p warning` selects by level; elsewhere lines
carry their own time, program and pid."""
import os
import re
import subprocess

from conftest import BIN, wait_until


def run_daemon(tmp_path, journal):
    out = tmp_path / "stderr.txt"
    with open(out, "w") as f:
        st = os.fstat(f.fileno())
        env = dict(os.environ)
        if journal:
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        else:
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino + 1}"  # another stream
        r = subprocess.run([os.path.join(BIN, "ws-daemon"), "-c", str(tmp_path / "none.yaml")],
                           env=env, stderr=f)
    assert r.returncode == 1
    return out.read_text()


def test_priority_prefix_on_the_journal_stream(tmp_path):
    text = run_daemon(tmp_path, journal=True)
    assert text.startswith("<3>error: "), text


def test_plain_lines_elsewhere(tmp_path):
    text = run_daemon(tmp_path, journal=False)
    assert not text.startswith("<") and " ws-daemon[" in text and " error: " in text, text


def test_cli_conventions(tmp_path):
    """Long options, stray arguments refused, -t checks the files the config names."""
    daemon = os.path.join(BIN, "ws-daemon")
    r = subprocess.run([daemon, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("ws-daemon ") and \
        "(libwebsockets 4." in r.stdout and "-v4" not in r.stdout, r.stdout
    r = subprocess.run([daemon, "stray"], capture_output=True, text=True)
    assert r.returncode == 2 and "unexpected argument 'stray'" in r.stderr
    conf = tmp_path / "conf.yaml"
    conf.write_text(f"password: x\ntls_cert: {tmp_path}/none.pem\ntls_key: {tmp_path}/none.key\n")
    r = subprocess.run([daemon, "--test", "--config", str(conf)], capture_output=True, text=True)
    assert r.returncode == 1 and "'tls_cert'" in r.stderr and "No such file" in r.stderr, r.stderr
    conf.write_text("password: x\nacces_key_ttl: 5\n")
    r = subprocess.run([daemon, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert r.returncode == 1 and f"{conf}:2: unknown key 'acces_key_ttl' (did you mean " \
        "'access_key_ttl'?)" in r.stderr, r.stderr


def test_push_api_cli(tmp_path):
    api = os.path.join(BIN, "push-api")
    r = subprocess.run([api, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and re.fullmatch(r"push-api \S+ \(libfcgi \d+\.\d+\.\d+\)\n", r.stdout), \
        r.stdout
    r = subprocess.run([api, "stray"], capture_output=True, text=True)
    assert r.returncode == 2 and "unexpected argument 'stray'" in r.stderr
    # Run by hand (fd 0 is no FastCGI socket): it says how it is meant to run.
    r = subprocess.run([api], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert r.returncode == 2 and "not started by a web server" in r.stderr, r.stderr
    conf = tmp_path / "conf.yaml"
    conf.write_text("password: x\n")
    r = subprocess.run([api, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert r.returncode == 0 and "is ok" in r.stdout, r.stderr


def test_refusal_lines_are_rate_limited(make_service):
    """A flood of bad handshakes cannot fill the disk: at most 20 lines a second per
    kind, then a count of what was left out."""
    import re
    import time

    from test_handshake import exchange, handshake

    svc = make_service()
    port = svc.ws_port
    start = time.time()
    for _ in range(120):
        assert exchange(port, handshake("/ws?uid=a&uid=b", port))[0] == 400
    spent = time.time() - start
    # One more in a later second reports what the limit left out.
    time.sleep(max(0.0, int(start + spent) + 1.05 - time.time()))
    assert exchange(port, handshake("/ws?uid=a&uid=b", port))[0] == 400
    assert wait_until(lambda: "similar lines suppressed" in svc.read_log(svc.daemon_log), 10)
    log = svc.read_log(svc.daemon_log)
    lines = len(re.findall(r"refused a WebSocket handshake", log))
    # Windows touched: the flood's (it may straddle a second boundary, hence + 1)
    # and the last one's.
    seconds = int(spent) + 2 + 1
    assert lines <= 20 * seconds * svc.workers, (lines, spent)
    assert lines < 121, lines
