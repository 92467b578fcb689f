# SPDX-License-Identifier: MIT
"""README's configuration table and the loader's key table (`ws-daemon -k`) list
the same keys, so neither can drift from the other."""
import os
import re
import subprocess

from conftest import BIN, TOP


def reference():
    r = subprocess.run([os.path.join(BIN, "ws-daemon"), "-k"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = [line.split(None, 3) for line in r.stdout.splitlines() if not line.startswith("#")]
    return {name: (default, reload) for name, default, reload, _ in rows}


def readme_keys():
    text = open(os.path.join(TOP, "README.md"), encoding="utf-8").read()
    table = text.split("## Configuration (`conf.yaml`)", 1)[1].split("\n\n", 2)[2]
    keys = set()
    for line in table.splitlines()[2:]:  # after the header and its rule
        if not line.startswith("| `"):
            break
        keys.update(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    return keys


def test_readme_table_lists_every_key():
    assert readme_keys() == set(reference())


def test_reload_column():
    ref = reference()
    assert {ref[k][1] for k in ref} == {"live", "restart"}
    for k in ("workers", "ws_addr", "ipc_socket", "run_dir", "fcgi_procs", "tls_cert"):
        assert ref[k][1] == "restart", k
    for k in ("password", "key_secret", "access_key_ttl", "log_level", "push_timeout_ms"):
        assert ref[k][1] == "live", k
