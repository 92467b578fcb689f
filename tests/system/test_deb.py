"""The Debian package end to end: `make deb` builds it and lintian finds nothing, apt
installs it with the layout an administrator expects (random secrets in a 0640
root:www-data conffile), the installed ws-daemon and push-api serve /access, /ws and
/push behind lighttpd, and a purge leaves nothing behind.

It installs and purges the package on this machine, so it runs only as root with
dpkg and apt-get, and never where push-service is already installed."""
import asyncio
import glob
import gzip
import grp
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import TOP, Service, port_open, roundtrip, wait_until

PKG = "push-service"
CONF = "/etc/push-service/conf.yaml"
SBIN_DAEMON = "/usr/sbin/ws-daemon"
LIBDIR = "/usr/lib/push-service"
PUSH_API = LIBDIR + "/push-api"
DATADIR = "/usr/share/push-service"
DOCDIR = "/usr/share/doc/push-service"
UNITS = ["/lib/systemd/system/ws-daemon.service", "/lib/systemd/system/push-api.service"]
MAN_PAGES = ["/usr/share/man/man8/ws-daemon.8.gz", "/usr/share/man/man8/push-api.8.gz",
             "/usr/share/man/man5/push-service.yaml.5.gz"]
# Everything the package puts on the system (and its purge must take away).
PACKAGE_PATHS = ["/etc/push-service", SBIN_DAEMON, LIBDIR, DATADIR, DOCDIR, *UNITS, *MAN_PAGES,
                 "/etc/systemd/system/multi-user.target.wants/ws-daemon.service",
                 "/var/lib/systemd/deb-systemd-helper-enabled/ws-daemon.service.dsh-also",
                 "/var/lib/systemd/deb-systemd-helper-enabled/push-api.service.dsh-also"]
APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")


def _why_not():
    if os.geteuid() != 0:
        return "needs root: installs and purges the Debian package (CI runs as root)"
    if not (shutil.which("dpkg") and shutil.which("apt-get")):
        return "needs dpkg and apt-get: installs and purges the Debian package"
    if _known() or any(os.path.lexists(p) for p in ("/etc/push-service", SBIN_DAEMON, LIBDIR)):
        return "push-service is installed here (package or make install): a purge would remove it"
    return None


def _known():
    """dpkg knows the package in any state but purged."""
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", PKG], capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.split()[-1:] not in ([], ["not-installed"])


def _run(argv, timeout=120, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)


class InstalledService(Service):
    """The package's programs: /usr/sbin/ws-daemon, and lighttpd configured by the
    installed lighttpd-conf.sh to spawn /usr/lib/push-service/push-api."""

    def start_daemon(self):
        self.daemon = self._spawn([SBIN_DAEMON, "-c", self.conf], self.daemon_log, own_group=True)
        if not wait_until(lambda: all(os.path.exists(p) for p in self.socks)
                          and port_open(self.ws_port)):
            raise RuntimeError("ws-daemon did not start:\n" + self.read_log(self.daemon_log))

    def _web_conf(self, script):
        conf = os.path.join(self.dir, "lighttpd.conf")
        with open(conf, "w") as f:
            subprocess.run([os.path.join(DATADIR, "scripts", script), self.conf, LIBDIR],
                           stdout=f, check=True)
        return conf


def children_exe(ppid):
    """Executables of ppid's children."""
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == ppid:
                out.append(os.readlink(os.path.dirname(stat) + "/exe"))
        except OSError:
            pass
    return out


def check_layout():
    for path in (SBIN_DAEMON, PUSH_API):
        assert os.path.isfile(path) and os.access(path, os.X_OK), path
    # The web-server scripts find both programs in one directory.
    assert os.path.realpath(os.path.join(LIBDIR, "ws-daemon")) == SBIN_DAEMON
    assert not os.path.exists("/usr/bin/ws-daemon") and not os.path.exists("/usr/bin/push-api")

    st = os.stat(CONF)
    assert st.st_mode & 0o777 == 0o640, oct(st.st_mode)
    assert st.st_uid == 0 and st.st_gid == grp.getgrnam("www-data").gr_gid, (st.st_uid, st.st_gid)
    r = _run(["dpkg-query", "-W", "-f=${Conffiles}", PKG])
    assert CONF in r.stdout, r.stdout

    text = open(CONF).read()
    pw = re.search(r'^password: "([0-9a-f]+)"$', text, re.M)
    secret = re.search(r'^key_secret: "([0-9a-f]+)"$', text, re.M)
    assert pw and len(pw.group(1)) >= 32, "no random password:\n" + text
    assert secret and len(secret.group(1)) >= 32 and secret.group(1) != pw.group(1), text

    unit = open(UNITS[0]).read()
    assert f"ExecStart={SBIN_DAEMON} -c {CONF}\n" in unit, unit
    assert "RuntimeDirectory=push-service" in unit
    assert f"ExecStart={PUSH_API} -c {CONF} -s -" in open(UNITS[1]).read()
    for unit in UNITS:
        assert "@" not in open(unit).read().replace("$MAINPID", ""), unit
    # Documentation=file: in the units names the README uncompressed.
    for doc in ("README.md", "copyright", "changelog.gz", "changelog.Debian.gz",
                "examples/conf.yaml"):
        assert os.path.isfile(os.path.join(DOCDIR, doc)), doc
    for tmpl in ("etc/lighttpd/push-service.conf.in", "etc/apache2/push-service.conf.in",
                 "scripts/lighttpd-conf.sh", "scripts/apache-conf.sh", "scripts/conf-lib.sh"):
        assert os.path.isfile(os.path.join(DATADIR, tmpl)), tmpl

    # Man pages render without a warning, and the (5) page lists every key the
    # installed daemon knows.
    for page in MAN_PAGES:
        r = _run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", page],
                 env=dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80"))
        assert r.returncode == 0 and r.stderr == "", (page, r.stderr)
    keys = [line.split()[0] for line in _run([SBIN_DAEMON, "-k"]).stdout.splitlines()[1:]]
    with gzip.open(MAN_PAGES[2], "rt") as f:
        entries = re.findall(r"^\.TP\n\.B (\S+)$", f.read(), re.M)
    assert entries == keys, (entries, keys)

    # The installed programs default to the installed config.
    r = _run([SBIN_DAEMON, "-t"])
    assert r.returncode == 0 and CONF in r.stdout + r.stderr, r.stdout + r.stderr
    r = _run([SBIN_DAEMON, "-c", CONF, "-t"])
    assert r.returncode == 0, r.stderr
    return pw.group(1), secret.group(1)


def serve_installed(password, secret):
    """The installed daemon on free ports with the installed secrets, behind a lighttpd
    that spawns the installed push-api: /access, /ws, /push round trip."""
    svc = InstalledService(tempfile.mkdtemp(prefix="push-deb."), "lighttpd", password=password,
                           key_secret=secret, workers=1)
    try:
        svc.start()
        assert PUSH_API in open(os.path.join(svc.dir, "lighttpd.conf")).read()
        assert os.readlink(f"/proc/{svc.daemon.pid}/exe") == SBIN_DAEMON
        asyncio.run(roundtrip(svc, uid="deb-user", contents={"from": "the package"}))
        assert PUSH_API in children_exe(svc.webserver.pid), children_exe(svc.webserver.pid)
    finally:
        svc.stop()
        shutil.rmtree(svc.dir, ignore_errors=True)


@pytest.mark.skipif(_why_not() is not None, reason=str(_why_not()))
def test_deb_build_install_serve_purge():
    r = _run(["make", "-s", "-C", TOP, "deb"], timeout=900)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    out = os.path.join(TOP, "build", "deb")
    lint = open(os.path.join(out, "lintian.txt")).read()
    assert not re.search(r"^[EW]:", lint, re.M), lint
    debs = glob.glob(os.path.join(out, f"{PKG}_*_*.deb"))
    assert len(debs) == 1, debs

    try:
        r = _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", debs[0]],
                 env=APT_ENV, timeout=300)
        assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
        password, secret = check_layout()
        serve_installed(password, secret)
    finally:
        if _known():
            r = _run(["apt-get", "purge", "-y", "-q", PKG], env=APT_ENV, timeout=300)
            assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]

    assert not _known()
    left = [p for p in PACKAGE_PATHS if os.path.lexists(p)]
    assert not left, f"left after purge: {left}"
