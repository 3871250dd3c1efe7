"""CSV that every reader sees the same (README: Command line): a cell holding a line break, a carriage return or a
quote is quoted, so no spreadsheet sees a new row, let alone one starting with a formula. Checked by reading
the output back with Python's csv module and on its raw bytes, for `usage-bot report --format csv` and for
`!usage export`."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.render.export import events_csv
from matrix_usage_bot.tracking.periods import parse_period
from matrix_usage_bot.tracking.store import Filters, open_store
from tests.usagebot import usage_bot

ROOM = "!csv:example.org"
NAMES = ["night shift\r=1+1+cmd|' /C calc'!A0", "two\nlines", "one\r\ntwo", 'says "hi"', "plain"]
TS = datetime(2026, 5, 6, 7, 8, tzinfo=UTC)


def record(db_url: str) -> None:
    with tracking.Tracker(db_url) as tracker:
        for i, name in enumerate(NAMES):
            tracker.record(provider="openai", model="gpt-4o", input_tokens=100 + i, output_tokens=10, room_id=ROOM,
                           agent=name, ts=TS)  # fmt: skip


def assert_cells(data: bytes, column: int) -> None:
    """Read back: one row per name, each name whole in its cell; on the wire each special one is quoted."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert sorted(row[column] for row in rows[1:] if row[column] in NAMES) == sorted(NAMES)
    assert len(rows) == 1 + len(NAMES) + (1 if rows[-1][0] == "TOTAL" else 0)
    assert b'"night shift\r=1+1+cmd|\' /C calc\'!A0"' in data
    assert b'"two\nlines"' in data and b'"one\r\ntwo"' in data and b'"says ""hi"""' in data
    assert b"\rplain" not in data and b"\r=" not in data.replace(b"shift\r=", b"")


def test_report_csv_quotes_line_breaks_and_quotes(db_url):
    record(db_url)
    done = usage_bot("report", "--db", db_url, "--period", "2026-05-06", "--by", "agent", "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert_cells(done.stdout.encode(), 0)  # what a process writes on a UTF-8 terminal: no newline translation


async def test_export_quotes_line_breaks_and_quotes(db_url):
    record(db_url)
    store = await open_store(db_url)
    try:
        day = parse_period("2026-05-06", ZoneInfo("UTC"))
        result = await events_csv(store.iter_events(day.start_ms, day.end_ms, Filters(room_id=(ROOM,))),
                                  ZoneInfo("UTC"))  # fmt: skip
    finally:
        await store.close()
    assert_cells(result.data, 4)
