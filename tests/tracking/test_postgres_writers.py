"""Many writers on one store: processes and threads at once, a writer killed, the server restarted."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.dbrows import rollup_mismatches, rows

ROOT = Path(__file__).parents[2]

# Event i is the same whoever records it (a retry, another process): its fields derive from i alone.
RECORDER = r"""
import sys, threading
from matrix_usage_bot import tracking
url = sys.argv[1]
first, count, threads, flush_every = map(int, sys.argv[2:6])

def record(tracker, i):
    tracker.record(provider=("openai", "anthropic")[i % 2], model=("gpt-4o", "claude-sonnet-4-5", "llama3")[i % 3],
                   input_tokens=100 + i % 97, output_tokens=1 + i % 13, cache_read_tokens=i % 7,
                   room_id=f"!room{i % 5}:x", agent=f"agent{i % 3}", user_id=f"@u{i % 4}:x",
                   thread_id=("", "$t")[i % 2],
                   ts=1_700_000_000 + (i % 500) * 3_600, status="error" if i % 61 == 0 else "ok", event_id=f"ev{i}")

with tracking.Tracker(url, batch_size=2_000) as tracker:
    if threads:
        def burst(k):
            for i in range(first + k, first + count, threads):
                record(tracker, i)
        workers = [threading.Thread(target=burst, args=(k,)) for k in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    else:
        for start in range(first, first + count, flush_every):
            for i in range(start, min(start + flush_every, first + count)):
                record(tracker, i)
            assert tracker.flush_sync(timeout=120)
            print(min(start + flush_every, first + count), flush=True)
    assert tracker.flush_sync(timeout=120)
    s = tracker.stats
    print("stats", s.stored, s.duplicates, s.rejected, s.retries, flush=True)
"""


def recorder(url: str, first: int, count: int, *, threads: int = 0, flush_every: int = 1_000) -> subprocess.Popen[str]:
    args = [sys.executable, "-c", RECORDER, url, str(first), str(count), str(threads), str(flush_every)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)


def finish(proc: subprocess.Popen[str], timeout: float = 240) -> list[str]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return out.split("\n")


def assert_exact(url: str, unique: int) -> None:
    assert rows(url, "SELECT count(*), count(DISTINCT event_id) FROM events") == [(unique, unique)]
    assert rows(url, "SELECT sum(calls) FROM rollup_slots") == [(unique,)]
    assert rows(url, "SELECT sum(calls) FROM rollup_room_daily") == [(unique,)]
    assert rollup_mismatches(url) == dict.fromkeys(rollup_mismatches(url), 0)


@pytest.mark.slow
def test_four_processes_of_eight_threads_with_duplicates_across_processes(pg_url):
    """Each process records 50,000 events; each overlaps the next by 10,000 (the same event ids)."""
    started = time.monotonic()
    procs = [recorder(pg_url, p * 40_000, 50_000, threads=8) for p in range(4)]
    stats = [finish(proc)[-2].split() for proc in procs]
    elapsed = time.monotonic() - started
    unique = 3 * 40_000 + 50_000
    stored = sum(int(s[1]) for s in stats)
    duplicates = sum(int(s[2]) for s in stats)
    assert (stored, duplicates) == (unique, 4 * 50_000 - unique)
    assert_exact(pg_url, unique)
    print(f"4 processes x 8 threads, 200,000 events ({unique:,} unique) in {elapsed:.1f}s")


@pytest.mark.slow
def test_a_writer_killed_mid_run_loses_nothing_flushed_and_a_rerun_doubles_nothing(store_url):
    proc = recorder(store_url, 0, 40_000, flush_every=1_000)
    assert proc.stdout is not None
    flushed = 0
    while flushed < 8_000:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        flushed = int(line)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    ((stored,),) = rows(store_url, "SELECT count(*) FROM events")
    assert stored >= flushed
    ids = ", ".join(f"'ev{i}'" for i in range(flushed))
    assert rows(store_url, f"SELECT count(*) FROM events WHERE event_id IN ({ids})") == [(flushed,)]
    assert_exact(store_url, stored)
    finish(recorder(store_url, 0, 40_000, flush_every=10_000))  # the restarted writer sends everything again
    assert_exact(store_url, 40_000)


@pytest.mark.slow
def test_a_postgresql_restart_in_the_middle_of_a_run_loses_nothing(pg_server, pg_url):
    proc = recorder(pg_url, 0, 30_000, flush_every=500)
    assert proc.stdout is not None
    while int(proc.stdout.readline() or 0) < 5_000:
        pass
    pg_server.restart()
    stored, duplicates, rejected, retries = map(int, finish(proc)[-2].split()[1:])
    # a batch whose COMMIT went through just before the connection broke is sent again: a duplicate, not a double
    assert (stored + duplicates, rejected) == (30_000, 0) and retries >= 1
    assert_exact(pg_url, 30_000)


async def test_a_postgresql_store_unreachable_at_close_saves_the_events_for_ingest(pg_url, tmp_path, monkeypatch):
    import psycopg

    from matrix_usage_bot import tracking
    from matrix_usage_bot.tracking.ingest import ingest_lines
    from matrix_usage_bot.tracking.pricing import Pricer
    from matrix_usage_bot.tracking.store import open_store

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    name = pg_url.rsplit("/", 1)[1]
    admin = pg_url.rsplit("/", 1)[0] + "/postgres"
    tracker = tracking.Tracker(pg_url)
    tracker._writer.give_up_after = 0.5
    await asyncio.to_thread(tracker.start)
    with psycopg.connect(admin, autocommit=True) as conn:  # the database goes away under the tracker
        conn.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
    for i in range(5):
        tracker.record(provider="openai", model="gpt-4o", input_tokens=i, output_tokens=1, event_id=f"s{i}")
    await tracker.aclose()
    assert tracker.spill_path is not None and tracker.spill_path.parent == tmp_path / "state" / "matrix-usage-bot"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
    store = await open_store(pg_url)
    result = await ingest_lines(store, tracker.spill_path.read_text().splitlines(), Pricer())
    await store.close()
    assert (result.stored, result.errors) == (5, [])


async def test_rows_are_copied_with_the_column_types_the_database_holds(pg_url):
    """Binary COPY needs each column's exact type: the writer reads them from the database, so a column whose
    type differs from the declaration (here a counter narrowed to INTEGER by hand) still takes its rows."""
    import psycopg

    from matrix_usage_bot import tracking

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE events ALTER COLUMN web_searches TYPE integer")
        conn.execute("ALTER TABLE rollup_slots ALTER COLUMN web_searches TYPE integer")
    async with tracking.Tracker(pg_url) as tracker:
        for i in range(3):
            tracker.record(provider="openai", model="gpt-4o", input_tokens=10, output_tokens=1, web_searches=2,
                           event_id=f"w{i}")  # fmt: skip
        await tracker.flush()
        assert (tracker.stats.stored, tracker.stats.rejected) == (3, 0)
    assert rows(pg_url, "SELECT sum(web_searches) FROM events") == [(6,)]
    assert rows(pg_url, "SELECT sum(web_searches) FROM rollup_slots") == [(6,)]
