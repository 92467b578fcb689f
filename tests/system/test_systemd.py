"""systemd integration without systemd as PID 1: the units pass systemd-analyze
verify, and ws-daemon speaks the notify/watchdog protocol to a socket we own."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import BIN, TOP, Service


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze missing")
def test_units_verify(tmp_path):
    for unit in ("ws-daemon", "push-api"):
        text = open(os.path.join(TOP, "etc", "systemd", f"{unit}.service.in")).read()
        text = (text.replace("@BINDIR@", BIN).replace("@CONFDIR@", TOP)
                .replace("@DOCDIR@", TOP))
        (tmp_path / f"{unit}.service").write_text(text)
    r = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "ws-daemon.service"),
                        str(tmp_path / "push-api.service")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ws-daemon.service" not in r.stderr, r.stderr


def recv_states(sock, until, timeout=5.0):
    """Collects notify datagrams until one contains `until`."""
    got = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            break
        got.append(msg)
        if until in msg:
            return got
    raise AssertionError(f"no {until!r} in {got}")


def test_notify_ready_watchdog_reload_stopping():
    d = tempfile.mkdtemp(prefix="push-sd.")
    svc = Service(d)
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = os.path.join(d, "notify.sock")
    ns.bind(path)
    proc = None
    try:
        env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="300000")
        log = open(svc.daemon_log, "ab")
        proc = subprocess.Popen([os.path.join(BIN, "ws-daemon"), "-c", svc.conf], env=env,
                                stdout=log, stderr=log)
        log.close()
        recv_states(ns, "READY=1")
        # Half the watchdog interval: several pings within a second.
        pings = [m for m in recv_states(ns, "WATCHDOG=1") if "WATCHDOG=1" in m]
        t0 = time.monotonic()
        recv_states(ns, "WATCHDOG=1")
        recv_states(ns, "WATCHDOG=1")
        assert pings and time.monotonic() - t0 < 1.0
        proc.send_signal(signal.SIGHUP)
        states = recv_states(ns, "READY=1")
        assert any("RELOADING=1" in m for m in states), states
        proc.send_signal(signal.SIGTERM)
        recv_states(ns, "STOPPING=1")
        assert proc.wait(10) == 0
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        ns.close()
        shutil.rmtree(d, ignore_errors=True)
