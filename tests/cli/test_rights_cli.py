"""`usage-bot forget` and `usage-bot delete` as users run them: dry runs by default, a progress bar on a terminal
and only the result otherwise, one clear line and status 2 for a bad argument."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
from pathlib import Path

import pytest

from tests.command import USAGE_BOT
from tests.dbrows import rollup_mismatches, rows
from tests.tracking.rights_world import ALICE, build, events, snapshot

ROOT = Path(__file__).parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*USAGE_BOT, *args], capture_output=True, text=True, env=ENV,
                          timeout=120, check=False)  # fmt: skip


def open_terminal() -> tuple[int, int]:
    """A pseudo-terminal of 24 rows and 120 columns (a new one has none, and tqdm draws nothing in no columns)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    return leader, follower


def on_a_terminal(*args: str) -> tuple[int, str, str]:
    """Run with standard error on a pseudo-terminal: (status, stdout, what the terminal showed)."""
    leader, follower = open_terminal()
    proc = subprocess.Popen([*USAGE_BOT, *args], stdout=subprocess.PIPE, stderr=follower,
                            env=ENV, text=True)  # fmt: skip
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    out = proc.stdout.read() if proc.stdout else ""
    status = proc.wait(timeout=120)
    os.close(leader)
    return status, out, shown.decode(errors="replace")


async def test_delete_dry_run_then_for_real(store_url):
    await build(store_url, retention=False)
    before = snapshot(store_url)
    leaked = [e for e, source in events() if source == "leaky-key"]
    dry = cli("delete", "--db", store_url, "--source", "leaky-key")
    assert dry.returncode == 0 and dry.stderr == "" and snapshot(store_url) == before
    assert dry.stdout.startswith(f"Would delete {len(leaked)} events of source leaky-key (3 rooms): "
                                 f"{sum(e.input_tokens for e in leaked):,} input and "
                                 f"{sum(e.output_tokens for e in leaked):,} output tokens, $")  # fmt: skip
    assert dry.stdout.endswith("Nothing was changed: run again with --yes to delete.\n")
    done = cli("delete", "--db", store_url, "--source", "leaky-key", "--yes")
    assert done.returncode == 0 and done.stderr == ""  # no terminal: no progress bar, only the result
    assert done.stdout.startswith(f"Deleted {len(leaked)} events of source leaky-key")
    assert rows(store_url, "SELECT count(*) FROM events WHERE source = 'leaky-key'") == [(0,)]
    assert set(rollup_mismatches(store_url).values()) == {0}


async def test_forget_dry_run_then_for_real(store_url, tmp_path):
    await build(store_url)
    before = snapshot(store_url)
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  url: {store_url}\nquotas:\n  plans:\n    pro: []\n  user_plans:\n"
                      f"    '{ALICE}': pro\n")  # fmt: skip
    dry = cli("forget", "-c", str(config), "--user", ALICE)
    assert dry.returncode == 0 and dry.stderr == "" and snapshot(store_url) == before
    theirs = rows(store_url, f"SELECT count(*) FROM events WHERE user_id = '{ALICE}'")[0][0]
    assert dry.stdout.startswith(f"Erasing {ALICE} would change this: {theirs} events would no longer name them")
    assert "quotas.user_plans puts them on plan 'pro'" in dry.stdout
    done = cli("forget", "-c", str(config), "--user", ALICE, "--yes")
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith(f"Erased {ALICE}: {theirs} events no longer name them")
    assert "files already exported, webhook receivers and PostHog" in done.stdout
    assert rows(store_url, f"SELECT count(*) FROM rollup_slots WHERE user_id = '{ALICE}'") == [(0,)]


async def test_a_terminal_shows_a_progress_bar(tmp_path):
    url = f"sqlite:///{tmp_path / 'usage.db'}"
    await build(url, 3_000, retention=False)
    status, out, shown = on_a_terminal("delete", "--db", url, "--agent", "scout", "--yes")
    assert status == 0 and out.startswith("Deleted ")
    deleted = int(out.split()[1].replace(",", ""))
    assert "deleting" in shown and f"/{deleted}" in shown and "events/s" in shown  # count, total and rate
    status, out, shown = on_a_terminal("forget", "--db", url, "--user", ALICE, "--yes")
    assert status == 0 and out.startswith(f"Erased {ALICE}") and "erasing" in shown


@pytest.mark.parametrize(("args", "line"), [
    (("delete",), "name the events to delete: --source KEY, --room ID or --agent NAME"),
    (("delete", "--room", "!r:x", "--since", "2026-02-30"), "argument --since: '2026-02-30' is not a date"),
    (("delete", "--agent", "a", "--since", "2026-03-02", "--until", "2026-03-01T23:00:00Z"), "the time range is empty"),
    (("delete", "--source", " "), "argument --source: must not be empty"),
    (("forget",), "the following arguments are required: --user"),
    (("forget", "--user", ""), "argument --user: must not be empty"),
])  # fmt: skip
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, line):
    db = tmp_path / "usage.db"
    done = cli(args[0], "--db", f"sqlite:///{db}", *args[1:])
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and line in done.stderr and done.stderr.startswith(f"usage-bot {args[0]}: ")
    assert not db.exists()


def test_a_missing_store_is_one_line(tmp_path):
    done = cli("forget", "--db", f"sqlite:///{tmp_path / 'nothing.db'}", "--user", ALICE)
    assert done.returncode == 2 and done.stderr == f"usage-bot forget: no usage database at {tmp_path / 'nothing.db'}\n"
