"""A counter added through the field table: cache_write_1h_tokens, its migration, and every place that shows it."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.store.batch import SUM_TABLES
from matrix_usage_bot.tracking.store.schema import LATEST
from tests.command import USAGE_BOT
from tests.oldstores import build
from tests.usagebot import usage_bot

TS = 1_790_000_000  # 2026-09-21


def report(db: str) -> dict:
    out = usage_bot("report", "--db", db, "--period", "all", "--format", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_recorded_stored_summed_and_reported(tmp_path):
    db = tmp_path / "u.db"
    with tracking.Tracker(f"sqlite:///{db}") as tracker:
        tracker.record(provider="anthropic", model="claude-sonnet-4-5", input_tokens=5000, output_tokens=10,
                       cache_write_tokens=1000, cache_write_1h_tokens=600, room_id="!r:x", ts=TS)  # fmt: skip
        tracker.record(provider="anthropic", model="claude-sonnet-4-5", input_tokens=500, output_tokens=1,
                       cache_write_tokens=100, cache_write_1h_tokens=101, room_id="!r:x", ts=TS)  # fmt: skip
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT cache_write_1h_tokens FROM events ORDER BY seq").fetchall() == [(600,), (101,)]
        for table in SUM_TABLES:
            assert conn.execute(f"SELECT sum(cache_write_1h_tokens) FROM {table}").fetchone() == (701,), table
        assert conn.execute("SELECT count(*) FROM rejected_events").fetchone() == (0,)  # stored as reported
    assert report(f"sqlite:///{db}")["totals"]["cache_write_1h_tokens"] == 701


def test_ingest_takes_it_even_above_the_cache_writes_and_says_so(tmp_path):
    db = f"sqlite:///{tmp_path / 'u.db'}"
    lines = [{"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 2000, "cache_write_tokens": 800,
              "cache_write_1h_tokens": 800, "ts": "2026-09-21T10:00:00Z"},
             {"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 2000, "cache_write_tokens": 8,
              "cache_write_1h_tokens": 9}]  # fmt: skip
    # a process of its own: the misfit is said once per process, and this process may have said it already
    out = subprocess.run([*USAGE_BOT, "ingest", "--db", db], capture_output=True, text=True,
                         input="\n".join(json.dumps(line) for line in lines), timeout=60)  # fmt: skip
    assert out.stdout.strip() == "stored 2, duplicates 0, skipped 0"
    assert "cache_write_1h_tokens (9) exceed cache_write_tokens (8)); stored as reported" in out.stderr
    assert report(db)["totals"]["cache_write_1h_tokens"] == 809


@pytest.mark.parametrize("version", [1, 3])
def test_an_older_store_migrates_in_place_and_keeps_its_numbers(tmp_path, version):
    db = tmp_path / "old.db"
    build(db, version)
    old_columns = "event_id, ts_ms, hour, room_id, thread_id, agent, user_id, operation, provider, model," \
                  " input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_pusd," \
                  " status"  # fmt: skip
    with sqlite3.connect(db) as conn:
        conn.execute(f"INSERT INTO events ({old_columns}) VALUES ('old', {TS * 1000}, {TS // 3600}, '!r:x', '', 'a',"
                     " '', 'chat', 'openai', 'gpt-4o', 100, 5, 0, 0, 0, 777, 'ok')")  # fmt: skip
        if version >= 3:
            for table, key in (("rollup_hourly", "room_id, hour, thread_id, agent, user_id, provider, model"),):
                conn.execute(f"INSERT INTO {table} ({key}, calls, input_tokens, output_tokens, cache_read_tokens,"
                             " cache_write_tokens, reasoning_tokens, cost_pusd, unpriced_calls, error_calls)"
                             f" VALUES ('!r:x', {TS // 3600}, '', 'a', '', 'openai', 'gpt-4o', 1, 100, 5, 0, 0, 0,"
                             " 777, 0, 0)")  # fmt: skip
    with tracking.Tracker(f"sqlite:///{db}") as tracker:
        tracker.record(provider="openai", model="gpt-4o", input_tokens=10, output_tokens=1, room_id="!r:x", ts=TS,
                       event_id="new")  # fmt: skip
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (LATEST,)
        rows = conn.execute("SELECT event_id, cache_write_1h_tokens FROM events ORDER BY event_id").fetchall()
    assert rows == [("new", 0), ("old", 0)]
