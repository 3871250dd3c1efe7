"""Both CSV exports neutralise formulas in every text cell; only real Matrix ids in id columns stay as they are."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.render.export import events_csv
from matrix_usage_bot.tracking.periods import parse_period
from matrix_usage_bot.tracking.store import Filters, open_store
from tests.usagebot import usage_bot

TZ = ZoneInfo("UTC")
ROOM = "!room:example.org"
TS = datetime(2026, 10, 5, 12, tzinfo=UTC).timestamp()
EVIL = {
    "agent": "@SUM(1+1)*cmd|' /C calc'!A0",
    "user_id": "@HYPERLINK(\"https://evil.example\",\"x\")",
    "thread_id": "=1+1",
    "session_id": "s",
    "operation": "-2+3",
    "model": "+gpt",
}


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'u.db'}"
    with tracking.Tracker(url) as tracker:
        tracker.record(provider="openai", input_tokens=10, output_tokens=1, room_id=ROOM, ts=TS, event_id="@e(1)",
                       **EVIL)  # fmt: skip
        tracker.record(provider="openai", model="gpt-4o", input_tokens=10, output_tokens=1, room_id=ROOM, ts=TS,
                       user_id="@alice:example.org", thread_id="$root_event-1",
                       event_id="$ev1:example.org")  # fmt: skip
    return url


async def test_export_neutralises_every_formula_but_real_ids(db):
    store = await open_store(db)
    try:
        period = parse_period("2026-10", TZ)
        result = await events_csv(store.iter_events(period.start_ms, period.end_ms, Filters(room_id=ROOM)), TZ)
    finally:
        await store.close()
    rows = {r["model"]: r for r in csv.DictReader(io.StringIO(result.data.decode()))}
    evil, good = rows["'+gpt"], rows["gpt-4o"]
    assert evil["agent"] == "'" + EVIL["agent"] and evil["user_id"] == "'" + EVIL["user_id"]
    assert evil["thread_id"] == "'=1+1" and evil["operation"] == "'-2+3" and evil["event_id"] == "'@e(1)"
    assert (good["user_id"], good["thread_id"], good["event_id"], good["room_id"]) == (
        "@alice:example.org", "$root_event-1", "$ev1:example.org", ROOM)  # fmt: skip


@pytest.mark.parametrize(
    ("by", "expected"),
    [("agent", {"'" + EVIL["agent"], ""}), ("user", {"'" + EVIL["user_id"], "@alice:example.org"}),
     ("model", {"'+gpt", "gpt-4o"}), ("thread", {"'=1+1", "$root_event-1"})],
)  # fmt: skip
def test_report_csv_neutralises_keys(db, by, expected):
    out = usage_bot("report", "--db", db, "--period", "2026-10", "--by", by, "--format", "csv", "--tz", "UTC")
    assert out.returncode == 0, out.stderr
    assert {r["key"] for r in csv.DictReader(io.StringIO(out.stdout))} == expected
