"""One bad event costs that event only: whatever preparing or writing it raises, the rest of its batch is
stored, the event is kept in `rejected_events` with the reason, and every flush completes."""

from __future__ import annotations

import asyncio
import json
import math

import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.store.sqlite.store import SQLiteStore
from tests.dbrows import rollup_mismatches, rows

LATENCY = "latency_ms: must be a finite number of milliseconds, at least 0, got "


def record(tracker: tracking.Tracker, tokens: int, **fields: object) -> None:
    tracker.record(provider="openai", model="gpt-4o", input_tokens=tokens, output_tokens=3, room_id="!r:x",
                   event_id=f"e{tokens}", **fields)  # type: ignore[arg-type]  # fmt: skip


async def test_a_latency_that_is_not_a_finite_number_is_refused_and_its_batch_stored(store_url):
    """Found in the attack pass: a NaN latency made the batch's sums raise, which dropped the whole batch
    (valid events included) and stranded the flush marker, so flush() never returned."""
    bad = {12: math.nan, 13: math.inf, 14: -math.inf, 15: 10**400}
    async with tracking.Tracker(store_url) as tracker:
        for tokens in range(10, 18):
            record(tracker, tokens, latency_ms=bad.get(tokens, 250.5))
        await asyncio.wait_for(tracker.flush(), 20)
        assert (tracker.stats.stored, tracker.stats.rejected) == (4, 4)
    assert rows(store_url, "SELECT event_id, latency_ms FROM events ORDER BY event_id") == [
        ("e10", 250.5), ("e11", 250.5), ("e16", 250.5), ("e17", 250.5)]  # fmt: skip
    refused = rows(store_url, "SELECT reason, payload FROM rejected_events ORDER BY id")
    assert [reason for reason, _ in refused] == [LATENCY + "nan", LATENCY + "inf", LATENCY + "-inf",
                                                 LATENCY + "an integer of more than 60 digits"]  # fmt: skip
    assert [json.loads(payload)["event_id"] for _, payload in refused] == ["e12", "e13", "e14", "e15"]
    assert set(rollup_mismatches(store_url).values()) == {0}


async def test_a_bug_in_a_batch_sums_costs_its_event_only(store_url, monkeypatch):
    """The sums of a batch raising for one row (a bug: every row passed validation) refuse that row alone."""
    from matrix_usage_bot.tracking.store import batch

    real = batch.bucket

    def broken_at_13(latency_ms: float) -> int:
        if latency_ms == 13.0:
            raise ZeroDivisionError("a bug in the sums")
        return real(latency_ms)

    monkeypatch.setattr(batch, "bucket", broken_at_13)
    async with tracking.Tracker(store_url) as tracker:
        for tokens in range(10, 16):
            record(tracker, tokens, latency_ms=float(tokens))
        await asyncio.wait_for(tracker.flush(), 20)
        record(tracker, 16, latency_ms=16.0)
        await asyncio.wait_for(tracker.flush(), 20)
    assert rows(store_url, "SELECT event_id FROM events ORDER BY event_id") == [
        ("e10",), ("e11",), ("e12",), ("e14",), ("e15",), ("e16",)]  # fmt: skip
    ((reason, payload),) = rows(store_url, "SELECT reason, payload FROM rejected_events")
    assert reason == "could not be stored: ZeroDivisionError: a bug in the sums"
    assert json.loads(payload)["event_id"] == "e13"


@pytest.fixture
def failing_store(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """SQLite stores whose writes raise an error that is not the store's for a batch holding model "kaput",
    and, while ``state["down"]`` is above 0, for every batch that holds rows (an unexplained outage)."""
    real = SQLiteStore.insert_batch
    state = {"down": 0}

    async def insert_batch(self: SQLiteStore, prepared):  # type: ignore[no-untyped-def]
        if prepared.rows and state["down"] > 0:
            state["down"] -= 1
            raise RuntimeError("the disk hiccuped")
        if any(row[10] == "kaput" for row in prepared.rows):
            raise KeyError("kaput")
        return await real(self, prepared)

    monkeypatch.setattr(SQLiteStore, "insert_batch", insert_batch)
    return state


async def test_a_write_error_that_follows_one_event_costs_that_event_only(tmp_path, failing_store):
    """A failure that is not the store's and comes again has the batch's rows tried one by one; the row it
    follows is refused with the reason, the others stored, and flush() returns."""
    db = f"sqlite:///{tmp_path / 'usage.db'}"
    async with tracking.Tracker(db) as tracker:
        for tokens in range(10, 20):
            tracker.record(provider="openai", model="kaput" if tokens == 14 else "gpt-4o", input_tokens=tokens,
                           event_id=f"e{tokens}")  # fmt: skip
        await asyncio.wait_for(tracker.flush(), 30)
        assert (tracker.stats.stored, tracker.stats.rejected) == (9, 1)
    assert rows(db, "SELECT count(*), sum(input_tokens) FROM events") == [(9, sum(range(10, 20)) - 14)]
    ((reason, payload),) = rows(db, "SELECT reason, payload FROM rejected_events")
    assert reason == "could not be stored: KeyError: 'kaput'" and json.loads(payload)["event_id"] == "e14"


async def test_a_write_error_every_event_meets_is_the_stores_and_refuses_none(tmp_path, failing_store):
    """An error that every row meets alone blames no row: the batch is tried again until it is stored."""
    db = f"sqlite:///{tmp_path / 'usage.db'}"
    failing_store["down"] = 12  # the whole batch twice, then each of its four rows, then the batch twice more
    async with tracking.Tracker(db) as tracker:
        for tokens in range(10, 14):
            record(tracker, tokens)
        await asyncio.wait_for(tracker.flush(), 60)
        assert (tracker.stats.stored, tracker.stats.rejected) == (4, 0)
    assert failing_store["down"] == 0
    assert rows(db, "SELECT count(*) FROM events") == [(4,)]
    assert rows(db, "SELECT count(*) FROM rejected_events") == [(0,)]


async def test_a_bug_in_the_writer_saves_its_batch_and_ends_its_flush(tmp_path, monkeypatch):
    """Whatever escapes the writer's own handling (a bug) costs no event and no flush: the batch it held is
    saved to the spill file for `usage-bot ingest`, the flush waiting for it returns, and the writer goes on."""
    from matrix_usage_bot.tracking.writer import Writer

    real = Writer._write

    async def broken_for_7(self, store, batch, prepared):  # type: ignore[no-untyped-def]
        if any(getattr(item, "input_tokens", None) == 7 for item in batch):
            raise RuntimeError("a bug outside the retries")
        return await real(self, store, batch, prepared)

    monkeypatch.setattr(Writer, "_write", broken_for_7)
    db = f"sqlite:///{tmp_path / 'usage.db'}"
    async with tracking.Tracker(db) as tracker:
        for tokens in (6, 7, 8):
            record(tracker, tokens)
        await asyncio.wait_for(tracker.flush(), 20)
        record(tracker, 9)
        await asyncio.wait_for(tracker.flush(), 20)
        spilled = tracker.spill_path
    assert rows(db, "SELECT event_id FROM events") == [("e9",)]
    assert spilled is not None
    assert [json.loads(line)["event_id"] for line in spilled.read_text().splitlines()] == ["e6", "e7", "e8"]
