"""The test run itself: a run started with Ctrl-C ignored (a background job) still stops the processes it starts,
and a test that leaves a thread running fails the run, also when workers run it in parallel."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


CHILD_TEST = '''
import subprocess
import sys


def test_a_started_python_turns_ctrl_c_into_keyboardinterrupt():
    check = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    assert subprocess.run([sys.executable, "-c", check], capture_output=True, text=True).stdout == "True\\n"
'''


def test_a_run_started_with_ctrl_c_ignored_still_lets_its_tests_stop_processes_with_it(tmp_path):
    """As a background job of a non-interactive shell (a CI step) starts it: SIGINT ignored, inherited by all."""
    (tmp_path / "test_child.py").write_text(CHILD_TEST)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
               "--rootdir", str(tmp_path), str(tmp_path / "test_child.py")]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


LEAKING_TEST = """
import threading
import time


def test_leaves_a_thread_running():
    threading.Thread(target=time.sleep, args=(5,), name="left-running").start()
"""


@pytest.mark.parametrize("workers", [[], ["-p", "xdist", "-n", "2"]], ids=["one process", "two workers"])
def test_a_thread_left_running_fails_the_run(tmp_path, workers):
    """A worker's own exit status never reaches the run's: it must say what it left, or CI would pass."""
    (tmp_path / "test_leak.py").write_text(LEAKING_TEST)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest", *workers,
               "--rootdir", str(tmp_path), str(tmp_path / "test_leak.py")]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    assert "threads left running after the tests (a store, tracker or server not closed): left-running" in (
        run.stdout + run.stderr
    )
