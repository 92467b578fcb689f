# SPDX-License-Identifier: MIT
"""The Debian package end to end: `make deb` builds it and lintian finds nothing, apt
installs it with the layout an administrator expects (random secrets in a 0640
root:www-data conffile, web-server snippets ready to enable), then what an
administrator types: `lighty-enable-mod push-service`, `a2enmod ...` + `a2enconf
push-service`. Debian's own lighttpd and Apache configurations (their main files with
only the port, pid and log paths changed, on loopback) then serve the installed
programs through the installed snippets, unmodified, with the installed conf.yaml's
password; the seed contract (test_contract.py, test_examples.py) runs against each,
and the host's other pages keep the host's own error documents. A purge, with the
snippets still enabled, leaves nothing behind, and the web servers' enabled modules
are put back as they were.

It installs and purges the package on this machine and uses the packaged fixed
addresses (ws-daemon 127.0.0.1:8081, push-api 127.0.0.1:8082), so it runs only as
root with dpkg and apt-get, and never where push-service is already installed."""
import glob
import gzip
import grp
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request

import pytest

from conftest import TOP, free_port, is_error_body, port_open, wait_until

PKG = "push-service"
CONF = "/etc/push-service/conf.yaml"
SBIN_DAEMON = "/usr/sbin/ws-daemon"
LIBDIR = "/usr/lib/push-service"
PUSH_API = LIBDIR + "/push-api"
DATADIR = "/usr/share/push-service"
DOCDIR = "/usr/share/doc/push-service"
LIGHTTPD_SNIPPET = "/etc/lighttpd/conf-available/50-push-service.conf"
LIGHTTPD_ROUTES = DATADIR + "/etc/lighttpd/push-service.conf"
LIGHTTPD_ENABLED = "/etc/lighttpd/conf-enabled/50-push-service.conf"
APACHE_SNIPPET = "/etc/apache2/conf-available/push-service.conf"
APACHE_ENABLED = "/etc/apache2/conf-enabled/push-service.conf"
NGINX_SNIPPET = "/etc/nginx/snippets/push-service.conf"
# What README's "Mounting in Apache 2.4" tells an administrator to enable.
APACHE_MODS = ["proxy", "proxy_fcgi", "proxy_http", "headers", "alias"]
UNITS = ["/lib/systemd/system/ws-daemon.service", "/lib/systemd/system/push-api.service"]
MAN_PAGES = ["/usr/share/man/man8/ws-daemon.8.gz", "/usr/share/man/man8/push-api.8.gz",
             "/usr/share/man/man5/push-service.yaml.5.gz"]
# Everything the package puts on the system (and its purge must take away).
PACKAGE_PATHS = ["/etc/push-service", SBIN_DAEMON, LIBDIR, DATADIR, DOCDIR, *UNITS, *MAN_PAGES,
                 LIGHTTPD_SNIPPET, LIGHTTPD_ENABLED, APACHE_SNIPPET, APACHE_ENABLED,
                 NGINX_SNIPPET,
                 "/etc/systemd/system/multi-user.target.wants/ws-daemon.service",
                 "/var/lib/systemd/deb-systemd-helper-enabled/ws-daemon.service.dsh-also",
                 "/var/lib/systemd/deb-systemd-helper-enabled/push-api.service.dsh-also"]
APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
# The seed contract, run against the installed package behind each web server.
CONTRACT_TESTS = ["test_contract.py", "test_examples.py"]


def _why_not():
    if os.geteuid() != 0:
        return "needs root: installs and purges the Debian package (CI runs as root)"
    for tool in ("dpkg", "apt-get", "lighttpd", "lighty-enable-mod", "apache2", "a2enmod"):
        if not shutil.which(tool):
            return f"needs {tool}: installs the package and enables it in Debian's web servers"
    if _known() or any(os.path.lexists(p) for p in ("/etc/push-service", SBIN_DAEMON, LIBDIR)):
        return "push-service is installed here (package or make install): a purge would remove it"
    return None


def _known():
    """dpkg knows the package in any state but purged."""
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", PKG], capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.split()[-1:] not in ([], ["not-installed"])


def _run(argv, timeout=120, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)


def check_layout():
    for path in (SBIN_DAEMON, PUSH_API):
        assert os.path.isfile(path) and os.access(path, os.X_OK), path
    assert not os.path.exists("/usr/bin/ws-daemon") and not os.path.exists("/usr/bin/push-api")

    st = os.stat(CONF)
    assert st.st_mode & 0o777 == 0o640, oct(st.st_mode)
    assert st.st_uid == 0 and st.st_gid == grp.getgrnam("www-data").gr_gid, (st.st_uid, st.st_gid)
    r = _run(["dpkg-query", "-W", "-f=${Conffiles}", PKG])
    for conffile in (CONF, LIGHTTPD_SNIPPET, APACHE_SNIPPET):
        assert conffile in r.stdout, (conffile, r.stdout)

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

    # Snippets ready to enable, byte for byte the tree's; no templates, no generators.
    for installed, tree in ((LIGHTTPD_SNIPPET, "etc/lighttpd/50-push-service.conf"),
                            (LIGHTTPD_ROUTES, "etc/lighttpd/push-service.conf"),
                            (APACHE_SNIPPET, "etc/apache2/push-service.conf")):
        assert open(installed).read() == open(os.path.join(TOP, tree)).read(), installed
    errors = sorted(os.listdir(DATADIR + "/etc/lighttpd/errors"))
    assert errors == sorted(os.listdir(os.path.join(TOP, "etc/lighttpd/errors"))), errors
    leftovers = [p for p in glob.glob(DATADIR + "/**", recursive=True)
                 if p.endswith((".in", ".sh"))]
    assert not leftovers, leftovers
    # The nginx snippet: written at build time with the same fixed values.
    nginx = open(NGINX_SNIPPET).read()
    assert "fastcgi_pass 127.0.0.1:8082;" in nginx and \
        "proxy_pass http://127.0.0.1:8081;" in nginx and "location = /health" in nginx, nginx
    # What the snippets take for granted is what the installed conf.yaml says.
    for key, want in (("ws_addr", "127.0.0.1:8081"), ("fcgi_addr", "127.0.0.1:8082"),
                      ("fcgi_socket", "/run/lighttpd/push-api.sock"), ("fcgi_procs", "4")):
        assert _run([SBIN_DAEMON, "-g", key]).stdout.strip() == want, key

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
    return pw.group(1)


# -- the administrator's switches, and putting them back ------------------------------

class EnabledState:
    """The web servers' enabled modules and configurations before the test; restore()
    removes what the test's lighty-enable-mod / a2enmod / a2enconf added."""
    DIRS = ["/etc/lighttpd/conf-enabled", "/etc/apache2/mods-enabled",
            "/etc/apache2/conf-enabled"]

    STATE = "/var/lib/apache2"  # a2enconf's and a2disconf's records

    def __init__(self):
        self.before = {d: set(os.listdir(d)) for d in self.DIRS}
        self.state_dirs = set(glob.glob(self.STATE + "/*/*"))

    def restore(self):
        for d, names in self.before.items():
            for name in set(os.listdir(d)) - names:
                path = os.path.join(d, name)
                if os.path.islink(path):
                    os.unlink(path)
        # The purge's a2disconf makes its (then empty) record directories.
        for d in set(glob.glob(self.STATE + "/*/*")) - self.state_dirs:
            if os.path.isdir(d) and not os.listdir(d):
                os.rmdir(d)

    def changed(self):
        now = {d: set(os.listdir(d)) for d in self.DIRS}
        out = {d: sorted(now[d] ^ names) for d, names in self.before.items() if now[d] != names}
        if set(glob.glob(self.STATE + "/*/*")) != self.state_dirs:
            out[self.STATE] = sorted(set(glob.glob(self.STATE + "/*/*")) ^ self.state_dirs)
        return out


def enable(state_dir):
    r = _run(["lighty-enable-mod", "push-service"])
    assert r.returncode == 0, r.stdout + r.stderr
    # a2enmod/a2enconf keep their "enabled by admin" records under state_dir, not in
    # /var/lib/apache2.
    env = dict(os.environ, APACHE_STATE_DIRECTORY=state_dir)
    r = _run(["a2enmod", "-q", *APACHE_MODS], env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = _run(["a2enconf", "-q", "push-service"], env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert os.path.realpath(LIGHTTPD_ENABLED) == LIGHTTPD_SNIPPET
    assert os.path.realpath(APACHE_ENABLED) == APACHE_SNIPPET


# -- Debian's own web-server configurations on a test port -----------------------------

def lighttpd_conf(work, port):
    """/etc/lighttpd/lighttpd.conf with only the port (on loopback), pid and error log
    changed; it includes /etc/lighttpd/conf-enabled/*.conf as it is."""
    logs = os.path.join(work, "lighttpd")  # lighttpd opens them as www-data
    os.makedirs(logs)
    shutil.chown(logs, "www-data", "www-data")
    text = open("/etc/lighttpd/lighttpd.conf").read()
    subs = [(r"(?m)^server\.port\s*=.*$", f'server.port = {port}\nserver.bind = "127.0.0.1"'),
            (r"(?m)^server\.pid-file\s*=.*$", f'server.pid-file = "{logs}/lighttpd.pid"'),
            (r"(?m)^server\.errorlog\s*=.*$", f'server.errorlog = "{logs}/error.log"'),
            # [::]:80 besides: loopback only here.
            (r'(?m)^include_shell "/usr/share/lighttpd/use-ipv6\.pl.*$', "")]
    for pattern, repl in subs:
        text, n = re.subn(pattern, repl, text)
        assert n == 1, pattern
    path = os.path.join(work, "lighttpd.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def apache_conf(work, port):
    """/etc/apache2/apache2.conf listening on 127.0.0.1:port instead of ports.conf, with
    the enabled sites' virtual hosts moved from :80 to that port; mods-enabled and
    conf-enabled as they are. Returns (config, environment)."""
    sites = os.path.join(work, "sites")
    os.makedirs(sites)
    for site in glob.glob("/etc/apache2/sites-enabled/*.conf"):
        with open(os.path.join(sites, os.path.basename(site)), "w") as f:
            f.write(re.sub(r"<VirtualHost \*:80>", f"<VirtualHost *:{port}>", open(site).read()))
    text = open("/etc/apache2/apache2.conf").read()
    for old, new in (("Include ports.conf", f"Listen 127.0.0.1:{port}"),
                     ("IncludeOptional sites-enabled/*.conf", f"IncludeOptional {sites}/*.conf")):
        assert re.search(rf"(?m)^{re.escape(old)}$", text), old
        text = re.sub(rf"(?m)^{re.escape(old)}$", new, text)
    path = os.path.join(work, "apache2.conf")
    with open(path, "w") as f:
        f.write(text)
    # /etc/apache2/envvars, with private run, lock and log directories.
    env = dict(os.environ, APACHE_RUN_USER="www-data", APACHE_RUN_GROUP="www-data",
               APACHE_PID_FILE=f"{work}/apache2.pid", APACHE_RUN_DIR=work,
               APACHE_LOCK_DIR=work, APACHE_LOG_DIR=work, LANG="C")
    return path, env


def spawn(argv, log, **kw):
    with open(log, "ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=out, start_new_session=True, **kw)


def stop(proc, sig=signal.SIGTERM):
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def get(port, path):
    """(status, body) of GET path, errors included."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def is_json_error(body):
    """The service's JSON error shape (conftest.is_error_body) in a raw body."""
    try:
        return is_error_body(json.loads(body))
    except ValueError:
        return False


def check_host_untouched(port):
    """The host's own pages and error documents: /other is the server's 404, not the
    service's JSON, while the service's own paths answer JSON errors."""
    st, body = get(port, "/other-page")
    assert st == 404 and not is_json_error(body), (st, body[:200])
    st, body = get(port, "/access")  # no uid, no password: push-api's JSON error
    assert st in (400, 401) and is_json_error(body), (st, body[:200])


def run_contract(web, port, password, pids, work):
    """The seed contract against the installed package behind `web`."""
    spec = {"web": web, "http_port": port, "ws_port": 8081, "password": password,
            "pids": pids}
    env = dict(os.environ, PUSH_ATTACH=json.dumps(spec), PUSH_WEB=web)
    tests = [os.path.join(TOP, "tests", "system", t) for t in CONTRACT_TESTS]
    r = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
             env=env, timeout=600, cwd=work)
    assert r.returncode == 0, f"contract behind Debian's {web}:\n" + r.stdout[-6000:] + r.stderr[-2000:]
    assert re.search(r"\d+ passed", r.stdout) and " skipped" not in r.stdout, r.stdout[-2000:]


def start_installed_daemon(socks, log):
    daemon = spawn([SBIN_DAEMON], log)
    assert wait_until(lambda: all(os.path.exists(s) for s in socks) and port_open(8081), 30), \
        open(log).read()
    return daemon


def serve_installed(password, work):
    """The installed ws-daemon (as by hand: no systemd here) with the installed config,
    then Debian's lighttpd and Debian's Apache (+ push-api's pool) in turn."""
    for port in (8081, 8082):
        assert not port_open(port), f"127.0.0.1:{port} (the packaged default) is in use"
    run_dir_existed = os.path.isdir("/run/push-service")
    lighttpd_run_existed = os.path.isdir("/run/lighttpd")
    daemon = web = pool = None
    try:
        # Every worker's real socket, one a line.
        socks = _run([SBIN_DAEMON, "-g", "ipc_socket"]).stdout.split()
        daemon = start_installed_daemon(socks, os.path.join(work, "daemon.log"))

        # lighttpd: lighty-enable-mod's conf-enabled, lighttpd spawns push-api in its
        # runtime directory (made by lighttpd's tmpfiles.d entry at boot).
        if not lighttpd_run_existed:
            os.makedirs("/run/lighttpd", 0o750)
            shutil.chown("/run/lighttpd", "www-data", "www-data")
        port = free_port()
        conf = lighttpd_conf(work, port)
        r = _run(["lighttpd", "-tt", "-f", conf])
        assert r.returncode == 0, r.stdout + r.stderr
        web = spawn(["lighttpd", "-D", "-f", conf], os.path.join(work, "lighttpd.log"))
        assert wait_until(lambda: port_open(port), 30), open(os.path.join(work, "lighttpd.log")).read()
        check_host_untouched(port)
        run_contract("lighttpd", port, password, [daemon.pid, web.pid], work)
        stop(web, signal.SIGINT)  # lighttpd stops its FastCGI children on SIGINT
        web = None
        # The contract suite expects its uids fresh (numbers from 1); the first
        # pass left them with a history, which a new daemon does not have.
        stop(daemon)
        daemon = None
        daemon = start_installed_daemon(socks, os.path.join(work, "daemon-2.log"))

        # Apache: push-api's pool as push-api.service runs it, then apache2.
        pool = spawn([PUSH_API, "-c", CONF, "-s", "-"], os.path.join(work, "push-api.log"),
                     user="www-data", group="www-data")
        assert wait_until(lambda: port_open(8082), 30), open(os.path.join(work, "push-api.log")).read()
        port = free_port()
        conf, env = apache_conf(work, port)
        r = _run(["apache2", "-d", "/etc/apache2", "-f", conf, "-t"], env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        web = spawn(["apache2", "-d", "/etc/apache2", "-f", conf, "-DFOREGROUND"],
                    os.path.join(work, "apache2.log"), env=env)
        assert wait_until(lambda: port_open(port), 30), open(os.path.join(work, "error.log")).read()
        check_host_untouched(port)
        run_contract("apache", port, password, [daemon.pid, web.pid, pool.pid], work)
    finally:
        stop(web)
        stop(pool)
        stop(daemon)
        if not run_dir_existed:
            shutil.rmtree("/run/push-service", ignore_errors=True)
        if not lighttpd_run_existed:
            shutil.rmtree("/run/lighttpd", ignore_errors=True)


@pytest.mark.skipif(_why_not() is not None, reason=str(_why_not()))
def test_deb_build_install_serve_purge():
    r = _run(["make", "-s", "-C", TOP, "deb"], timeout=900)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    out = os.path.join(TOP, "build", "deb")
    lint = open(os.path.join(out, "lintian.txt")).read()
    assert not re.search(r"^[EW]:", lint, re.M), lint
    debs = glob.glob(os.path.join(out, f"{PKG}_*_*.deb"))
    assert len(debs) == 1, debs

    state = EnabledState()
    work = tempfile.mkdtemp(prefix="push-deb.")
    os.chmod(work, 0o755)  # Apache's and lighttpd's workers run as www-data
    try:
        r = _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", debs[0]],
                 env=APT_ENV, timeout=300)
        assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
        password = check_layout()
        enable(os.path.join(work, "apache2-state"))
        serve_installed(password, work)
    finally:
        try:
            if _known():
                # Purged with the snippets still enabled: the package disables them.
                r = _run(["apt-get", "purge", "-y", "-q", PKG], env=APT_ENV, timeout=300)
                assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
        finally:
            # Before putting the modules back: what the purge itself left enabled.
            left = [p for p in PACKAGE_PATHS if os.path.lexists(p)]
            state.restore()
            shutil.rmtree(work, ignore_errors=True)

    assert not _known()
    left += glob.glob("/var/lib/apache2/*/*/push-service")
    assert not left, f"left after purge: {left}"
    assert not state.changed(), state.changed()
