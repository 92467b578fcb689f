# SPDX-License-Identifier: MIT
"""`make run` (scripts/run.sh) as a user meets it: the banner only once everything
listens, a clear failure with a non-zero exit when a component cannot start, 0
after Ctrl-C; and what ws-daemon's supervisor does with its run directory and with
a stray SIGHUP sent to a worker."""
import grp
import os
import signal
import socket
import stat
import subprocess
import time

from conftest import BIN, TOP, Service, port_open, wait_until

BANNER = "push service on http://"


def run_script(svc):
    return subprocess.Popen(["sh", os.path.join(TOP, "scripts", "run.sh"), svc.conf, BIN,
                             "lighttpd"], cwd=svc.dir, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def read_until(proc, needle, timeout=30):
    """Output lines up to the one containing needle (or the end of the output)."""
    lines, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            break
    return "".join(lines)


def test_banner_after_listening_and_ctrl_c_exits_0(tmp_path):
    svc = Service(str(tmp_path))
    proc = run_script(svc)
    try:
        out = read_until(proc, BANNER)
        assert BANNER in out, out
        # Everything the banner promises is there when it is printed.
        assert port_open(svc.http_port) and port_open(svc.ws_port), out
        st, _, _ = svc.request("GET", "/health")
        assert st == 200
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_busy_port_fails_clearly(tmp_path):
    svc = Service(str(tmp_path))
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", svc.http_port))
        holder.listen()
        proc = run_script(svc)
        try:
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert proc.returncode == 1, out
    assert BANNER not in out, out
    assert "make run: lighttpd on 127.0.0.1:%d" % svc.http_port in out, out


def test_run_dir_reachable_by_the_socket_group(tmp_path):
    """The supervisor makes run_dir once: group-owned when ipc_socket_group is set,
    so the web server's processes can reach the sockets inside."""
    group = grp.getgrnam("www-data")
    svc = Service(str(tmp_path), ipc_socket_group="www-data", workers=2)
    svc.start_daemon()
    try:
        st = os.stat(os.path.dirname(svc.sock))
        assert st.st_gid == group.gr_gid and stat.S_IMODE(st.st_mode) == 0o750, oct(st.st_mode)
    finally:
        svc.stop_daemon()


def test_sighup_to_a_worker_is_harmless(tmp_path):
    """Reloads go through the supervisor; a HUP sent to a worker by mistake (or
    arriving before its handlers exist) neither kills nor reloads it."""
    svc = Service(str(tmp_path), workers=2)
    svc.start_daemon()
    try:
        with open(f"/proc/{svc.daemon.pid}/task/{svc.daemon.pid}/children") as f:
            worker = int(f.read().split()[0])
        os.kill(worker, signal.SIGHUP)
        assert not wait_until(lambda: not os.path.exists(f"/proc/{worker}"), timeout=1.0)
        assert "reloaded from" not in svc.read_log(svc.daemon_log)
    finally:
        svc.stop_daemon()
