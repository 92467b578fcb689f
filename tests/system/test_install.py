# SPDX-License-Identifier: MIT
"""`make install` / `make uninstall` with PREFIX and DESTDIR: FHS paths, a config
that refuses to run without a password, units pointing at the installed binaries."""
import os
import subprocess

from conftest import BIN, TOP


def make(*args):
    # BUILD= the build under test: make installs those binaries, it builds none.
    r = subprocess.run(["make", "-s", "-C", TOP, f"BUILD={os.path.dirname(BIN)}", *args],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def test_install_and_uninstall(tmp_path):
    dest = str(tmp_path)
    make("install", f"DESTDIR={dest}", "PREFIX=/usr")
    want = ["usr/bin/ws-daemon", "usr/bin/push-api", "etc/push-service/conf.yaml",
            "usr/lib/systemd/system/ws-daemon.service", "usr/lib/systemd/system/push-api.service",
            "usr/share/push-service/scripts/lighttpd-conf.sh",
            "usr/share/push-service/etc/lighttpd/push-service.conf",
            "usr/share/push-service/etc/apache2/push-service.conf",
            "usr/share/doc/push-service/README.md"]
    for w in want:
        assert os.path.exists(os.path.join(dest, w)), w
    for prog in ("ws-daemon", "push-api"):  # the binaries under test, not a rebuild
        with open(os.path.join(dest, "usr/bin", prog), "rb") as a, \
                open(os.path.join(BIN, prog), "rb") as b:
            assert a.read() == b.read(), prog
    unit = open(os.path.join(dest, "usr/lib/systemd/system/ws-daemon.service")).read()
    assert "ExecStart=/usr/bin/ws-daemon -c /etc/push-service/conf.yaml" in unit
    assert "@" not in unit.replace("$MAINPID", "")
    conf = os.path.join(dest, "etc/push-service/conf.yaml")
    assert os.stat(conf).st_mode & 0o777 == 0o640

    daemon = os.path.join(dest, "usr/bin/ws-daemon")
    r = subprocess.run([daemon, "-c", conf, "-t"], capture_output=True, text=True)
    assert r.returncode == 1 and "'password' must not be empty" in r.stderr, r.stderr

    # The operator sets a password; the installed config is then valid and the
    # installed generator produces a lighttpd config lighttpd accepts.
    text = open(conf).read().replace('password: ""', "password: installed-pw")
    run_dir = str(tmp_path / "run")
    text = text.replace("/run/push-service", run_dir)
    open(conf, "w").write(text)
    r = subprocess.run([daemon, "-c", conf, "-t"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    gen = os.path.join(dest, "usr/share/push-service/scripts/lighttpd-conf.sh")
    lconf = tmp_path / "lighttpd.conf"
    with open(lconf, "w") as f:
        subprocess.run([gen, conf, os.path.join(dest, "usr/bin")], stdout=f, check=True)
    r = subprocess.run(["lighttpd", "-tt", "-f", str(lconf)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr

    # A second install keeps the operator's config.
    make("install", f"DESTDIR={dest}", "PREFIX=/usr")
    assert "installed-pw" in open(conf).read()

    make("uninstall", f"DESTDIR={dest}", "PREFIX=/usr")
    for w in want:
        if w.startswith("etc/"):
            assert os.path.exists(os.path.join(dest, w)), "uninstall removed the config"
        else:
            assert not os.path.exists(os.path.join(dest, w)), w


def test_help_and_version():
    for prog in ("ws-daemon", "push-api"):
        path = os.path.join(BIN, prog)
        r = subprocess.run([path, "-h"], capture_output=True, text=True)
        assert r.returncode == 0 and "usage:" in r.stdout and "exit codes" in r.stdout
        r = subprocess.run([path, "-Z"], capture_output=True, text=True)
        assert r.returncode == 2
    r = subprocess.run([os.path.join(BIN, "ws-daemon"), "-v"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("ws-daemon ")
    r = subprocess.run([os.path.join(BIN, "ws-daemon"), "-k"],
                       capture_output=True, text=True)
    keys = [line.split()[0] for line in r.stdout.splitlines()]
    assert r.returncode == 0 and "password" in keys and "max_message_bytes" in keys, r.stdout
