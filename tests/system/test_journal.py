"""Under systemd (stderr is the stream JOURNAL_STREAM names) every line starts with
the syslog priority, so `journalctl -p warning` selects by level; elsewhere lines
carry their own time, program and pid."""
import os
import subprocess

from conftest import BIN


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
