"""`usage-bot ingest` as people run it: a file or standard input, a word when it waits on a terminal, the first
Ctrl-C stops it saying what was stored (exit 130), exit 1 when lines were skipped, a cap on the lines named, a
progress bar on a terminal only; `migrate` shows one too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from tests.command import USAGE_BOT
from tests.dbrows import rows

from .test_cli import run
from .test_rights_cli import ENV, on_a_terminal, open_terminal


def event(n: int) -> str:
    return json.dumps({"event_id": f"ev-{n}", "ts": "2026-11-03T10:00:00Z", "provider": "openai",
                       "model": "gpt-4o-mini", "input_tokens": 100 + n, "output_tokens": 7,
                       "room_id": "!q:hs"})  # fmt: skip


def test_a_file_argument_and_a_dash_for_standard_input(tmp_path):
    url = f"sqlite:///{tmp_path / 'u.db'}"
    (tmp_path / "events.jsonl").write_text("\n".join(event(n) for n in range(3)) + "\n")
    out = run("ingest", "--db", url, str(tmp_path / "events.jsonl"))
    assert (out.returncode, out.stdout, out.stderr) == (0, "stored 3, duplicates 0, skipped 0\n", "")
    out = run("ingest", "--db", url, "-", stdin=event(2) + "\n" + event(3) + "\n")
    assert (out.returncode, out.stdout) == (0, "stored 1, duplicates 1, skipped 0\n")
    missing = tmp_path / "missing.jsonl"
    out = run("ingest", "--db", url, str(missing))
    assert (out.returncode, out.stderr) == (2, f"usage-bot ingest: cannot read {missing}: No such file or directory\n")


def test_skipped_lines_exit_1_and_only_the_first_20_are_named(tmp_path):
    lines = [event(0), *(f'{{"n": {n}' for n in range(27)), event(1)]
    out = run("ingest", "--db", f"sqlite:///{tmp_path / 'u.db'}", stdin="\n".join(lines))
    assert (out.returncode, out.stdout) == (1, "stored 2, duplicates 0, skipped 27\n")
    named = out.stderr.splitlines()
    assert len(named) == 21
    assert named[0].startswith("usage-bot ingest: skipped line 2: not valid JSON")
    assert named[19].startswith("usage-bot ingest: skipped line 21: ")
    assert named[20] == "usage-bot ingest: ... and 7 more lines skipped"
    assert "1 some lines skipped" in " ".join(run("ingest", "--help").stdout.split())


def test_on_a_terminal_it_says_it_waits_and_the_first_ctrl_c_stops_it(tmp_path):
    db = tmp_path / "u.db"
    leader, follower = open_terminal()
    proc = subprocess.Popen([*USAGE_BOT, "ingest", "--db", f"sqlite:///{db}"], stdin=follower,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, text=True)  # fmt: skip
    os.close(follower)
    try:
        waiting = proc.stderr.readline()
        assert waiting.startswith("usage-bot ingest: waiting for JSON lines on standard input")
        assert "end with Ctrl-D" in waiting
        os.write(leader, (event(0) + "\n" + event(1) + "\n").encode())
        while not db.exists() or len(rows(f"sqlite:///{db}", "SELECT event_id FROM events")) < 2:
            assert proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(leader)
    assert proc.returncode == 130
    assert out == "stored 2, duplicates 0, skipped 0\n"
    assert err == "usage-bot ingest: interrupted after line 2; the counts cover every line up to it\n"


def test_a_progress_bar_on_a_terminal_only(tmp_path):
    (tmp_path / "events.jsonl").write_text("\n".join(event(n) for n in range(12_000)) + "\n")
    url = f"sqlite:///{tmp_path / 'u.db'}"
    status, out, shown = on_a_terminal("ingest", "--db", url, str(tmp_path / "events.jsonl"))
    assert (status, out) == (0, "stored 12000, duplicates 0, skipped 0\n")
    assert "ingesting" in shown and "/12000" in shown and "lines/s" in shown  # count, total and rate
    status, out, shown = on_a_terminal("migrate", "--from", url, "--to", f"sqlite:///{tmp_path / 'copy.db'}")
    assert status == 0 and out.startswith("events: stored 12000, already there 0")
    assert "copying" in shown and "/12000" in shown and "events/s" in shown
    piped = run("ingest", "--db", url, str(tmp_path / "events.jsonl"))
    assert (piped.returncode, piped.stdout, piped.stderr) == (0, "stored 0, duplicates 12000, skipped 0\n", "")
