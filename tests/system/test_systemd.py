# SPDX-License-Identifier: MIT
"""systemd integration without systemd as PID 1: the units pass systemd-analyze
verify, and ws-daemon's main process speaks the notify/watchdog protocol to a socket
we own, as systemd would see it (WATCHDOG_PID = the main pid), with 1 and 3 workers."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import BIN, TOP, Service, wait_until


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


class Notify:
    """A notify socket of our own, as systemd would give: collects state datagrams
    with their arrival times."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.path = path
        self.log = []  # (monotonic time, message)

    def next(self, timeout):
        self.sock.settimeout(max(0.001, timeout))
        try:
            msg = self.sock.recv(4096).decode()
        except socket.timeout:
            return None
        self.log.append((time.monotonic(), msg))
        return msg

    def until(self, needle, timeout=10.0):
        """Messages up to and including the first that contains needle."""
        got, end = [], time.monotonic() + timeout
        while time.monotonic() < end:
            msg = self.next(end - time.monotonic())
            if msg is None:
                continue
            got.append(msg)
            if needle in msg:
                return got
        raise AssertionError(f"no {needle!r} within {timeout} s: {got}")

    def pings_for(self, seconds):
        """Arrival times of WATCHDOG=1 over the next `seconds`."""
        times, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            msg = self.next(end - time.monotonic())
            if msg and "WATCHDOG=1" in msg:
                times.append(time.monotonic())
        return times

    def close(self):
        self.sock.close()


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(x) for x in f.read().split()]


WATCHDOG_USEC = 400000  # what systemd would pass for WatchdogSec=0.4
HUNG_S = 5.0            # WSD_HUNG_MS: a stuck worker is replaced after this


def start_under_notify(svc, notify_path):
    """ws-daemon as systemd starts it: NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID
    naming the main process (exec keeps the shell's pid)."""
    env = dict(os.environ, NOTIFY_SOCKET=notify_path, WATCHDOG_USEC=str(WATCHDOG_USEC))
    log = open(svc.daemon_log, "ab")
    try:
        return subprocess.Popen(["/bin/sh", "-c", 'WATCHDOG_PID=$$ exec "$0" -c "$1"',
                                 os.path.join(BIN, "ws-daemon"), svc.conf],
                                env=env, stdout=log, stderr=log)
    finally:
        log.close()


def max_gap(times):
    return max(b - a for a, b in zip(times, times[1:]))


@pytest.mark.parametrize("workers", [1, 3])
def test_notify_ready_watchdog_reload_stopping(workers):
    d = tempfile.mkdtemp(prefix="push-sd.")
    svc = Service(d, workers=workers)
    ns = Notify(os.path.join(d, "notify.sock"))
    proc = None
    try:
        proc = start_under_notify(svc, ns.path)
        ns.until("READY=1")
        # READY only once every worker serves: all sockets are there already.
        assert all(os.path.exists(p) for p in svc.socks), os.listdir(os.path.dirname(svc.sock))
        assert len(children(proc.pid)) == workers
        # The main pid pings well within the interval, for as long as it runs.
        pings = ns.pings_for(2.0)
        assert len(pings) >= 5, pings
        assert max_gap(pings) < WATCHDOG_USEC / 1e6, max_gap(pings)
        proc.send_signal(signal.SIGHUP)
        states = ns.until("READY=1")
        assert any("RELOADING=1" in m for m in states), states
        assert "reloaded from" in svc.read_log(svc.daemon_log)
        proc.send_signal(signal.SIGTERM)
        ns.until("STOPPING=1")
        assert proc.wait(10) == 0
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        ns.close()
        shutil.rmtree(d, ignore_errors=True)


def test_hung_worker_stops_watchdog_then_is_replaced():
    d = tempfile.mkdtemp(prefix="push-sd.")
    svc = Service(d, workers=3)
    ns = Notify(os.path.join(d, "notify.sock"))
    proc = None
    stopped = None
    try:
        proc = start_under_notify(svc, ns.path)
        ns.until("READY=1")
        before = children(proc.pid)
        stopped = before[1]
        os.kill(stopped, signal.SIGSTOP)
        t0 = time.monotonic()
        # Pings stop while a worker does not answer ...
        pings = ns.pings_for(HUNG_S * 0.6)
        silent_from = pings[-1] if pings else t0
        assert silent_from - t0 < 1.5, "watchdog kept pinging for a stopped worker"
        # ... the stuck worker is killed and replaced, and pings come back.
        assert wait_until(lambda: stopped not in children(proc.pid) and
                          len(children(proc.pid)) == 3, timeout=HUNG_S * 2)
        assert ns.pings_for(1.0), "no watchdog ping after the worker was replaced"
        log = svc.read_log(svc.daemon_log)
        assert f"(pid {stopped}) has not answered" in log, log[-2000:]
        assert f"(pid {stopped}) was killed by signal 9; restarting" in log, log[-2000:]
        stopped = None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if stopped:
            os.kill(stopped, signal.SIGCONT)
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        ns.close()
        shutil.rmtree(d, ignore_errors=True)


def test_workers_do_not_notify():
    """systemd's NotifyAccess=main: a worker's message would be dropped (and with
    NotifyAccess=all, a worker's READY=1 would come before the others serve)."""
    d = tempfile.mkdtemp(prefix="push-sd.")
    svc = Service(d, workers=2)
    ns = Notify(os.path.join(d, "notify.sock"))
    proc = None
    try:
        proc = start_under_notify(svc, ns.path)
        ns.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        ns.until("READY=1")
        senders = set()
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            ns.sock.settimeout(0.2)
            try:
                _, anc, _, _ = ns.sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except socket.timeout:
                continue
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    senders.add(int.from_bytes(data[:4], "little"))
        assert senders == {proc.pid}, (senders, proc.pid)
    finally:
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
        ns.close()
        shutil.rmtree(d, ignore_errors=True)
