"""The tests' PostgreSQL server (tests/pg.py) ends with the run that started it, however that run ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.pg import bindir

ROOT = Path(__file__).parents[1]
TINY_TEST = '''
import time


def test_waits_for_the_signal(pg_server):
    pid = (pg_server.data / "postmaster.pid").read_text().split()[0]
    print(f"server {pid} {pg_server.root}", flush=True)
    time.sleep(300)
'''


def gone(pid: int) -> bool:
    """No such process, or a zombie no one has reaped yet (it has stopped all the same)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(bindir() is None, reason="PostgreSQL is not installed")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stopping_the_run_stops_its_postgresql_server(tmp_path, sig):
    (tmp_path / "test_tiny.py").write_text(TINY_TEST)
    command = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p", "tests.conftest",
               "--rootdir", str(tmp_path), str(tmp_path / "test_tiny.py")]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # no plugin needed
    run = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert run.stdout is not None
        lines = []
        while not (line := run.stdout.readline()).startswith("server ") and line:
            lines.append(line)
        assert line, "".join(lines)
        _, pid, folder = line.split()
        assert not gone(int(pid))
        run.send_signal(sig)  # to pytest alone, not to its process group as a terminal's Ctrl-C would
        try:  # reading what it says as it ends: a full pipe must not keep it from ending
            said, _ = run.communicate(timeout=60)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"pytest did not end within 60 s of {sig.name}; it said: {exc.output!r}") from None
        assert run.returncode != 0, said
        for _ in range(600):  # until the server has stopped (a cap for a server left running: 60 s)
            if gone(int(pid)) and not Path(folder).exists():
                break
            time.sleep(0.1)
        assert gone(int(pid)) and not Path(folder).exists()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()



@pytest.mark.skipif(bindir() is None, reason="PostgreSQL is not installed")
def test_stop_ends_the_server_while_a_forked_process_holds_the_watchdogs_pipe():
    """A process forked from the run (a benchmark's pool worker) inherits the watchdog's pipe, whose end of input
    it waits for: stop() must stop the server all the same, not wait for that process to end."""
    from tests.pg import PgServer

    server = PgServer().start()
    pid = int((server.data / "postmaster.pid").read_text().split()[0])
    assert server._watchdog is not None and server._watchdog.stdin is not None
    holder = subprocess.Popen(["sleep", "300"], pass_fds=(server._watchdog.stdin.fileno(),))
    try:
        server.stop()
        assert gone(pid)
        assert not server.data.exists()
    finally:
        holder.kill()
        holder.wait()
