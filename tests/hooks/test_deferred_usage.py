"""A hooked call's usage is read on the writer's thread: what the caller's thread must still fix at call time
(the time, the attribution), and what becomes of a call whose usage cannot be read or must be spilled."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time

import openai

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.hooks.openai import _Hook, instrument_openai
from matrix_usage_bot.tracking.ingest import ingest_lines
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.store import open_store
from tests.fakes.providers import Usage

from .helpers import assert_event, rejected, stored

MESSAGES = [{"role": "user", "content": "Say hello"}]
USAGE = Usage(input=1500, output=420, cache_read=1024, cache_write=0, reasoning=128)


def client(providers, tracker):
    sdk = openai.OpenAI(base_url=providers.url + "/v1", api_key="sk-test", max_retries=0)
    return instrument_openai(sdk, tracker, provider="openai")


async def test_time_and_attribution_are_the_calls_though_the_writer_reads_the_usage_later(providers, tmp_path):
    providers.usage = USAGE
    async with tracking.Tracker(f"sqlite:///{tmp_path / 'usage.db'}", flush_interval=30) as tracker:
        hooked = client(providers, tracker)
        before = time.time()
        with tracking.attribute(room_id="!a:x", agent="researcher"):
            hooked.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        hooked.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        after = time.time()
        assert tracker.pending == 2, "queued as they are; the writer has not read them yet"
        with tracking.attribute(room_id="!later:x", agent="someone-else"):
            await asyncio.sleep(0.2)
            rows = await stored(tracker)
    assert [(r["room_id"], r["agent"]) for r in rows] == [("!a:x", "researcher"), ("", "")]
    for row in rows:
        assert before * 1000 - 1 <= row["ts_ms"] <= after * 1000
        assert_event(row, "openai", "gpt-4o", 1500, 420, 1024, 0, 128)
    assert len({r["event_id"] for r in rows}) == 2


async def test_usage_that_cannot_be_read_is_kept_in_rejected_events_and_the_caller_sees_nothing(
    providers, tracker, tmp_path, monkeypatch
):
    providers.usage = USAGE
    hooked = client(providers, tracker)

    def broken(self, kind, result):
        raise RuntimeError("a usage shape nobody expected")

    with monkeypatch.context() as patch:
        patch.setattr(_Hook, "counts", broken)
        reply = hooked.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        assert reply.usage.prompt_tokens == 1500
        assert await stored(tracker) == []
    hooked.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    [row] = await stored(tracker)
    assert_event(row, "openai", "gpt-4o", 1500, 420, 1024, 0, 128)
    [(reason, payload)] = rejected(tmp_path / "usage.db")
    assert reason == "could not be stored: RuntimeError: a usage shape nobody expected"
    assert "gpt-4o" in payload and "prompt_tokens=1500" in payload


async def test_queued_hook_calls_behind_a_locked_store_are_spilled_converted_and_ingest_once(providers, tmp_path,
                                                                                            short_lock_waits):
    providers.usage = USAGE
    db = tmp_path / "usage.db"
    tracker = tracking.Tracker(f"sqlite:///{db}", max_pending=5, full_wait=0.05)
    tracker._writer.give_up_after = 0.3
    tracker.start()
    blocker = sqlite3.connect(db, timeout=0, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    hooked = client(providers, tracker)
    for _ in range(20):
        hooked.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    blocker.execute("ROLLBACK")
    blocker.close()
    tracker.close()
    lines = tracker.spill_path.read_text().splitlines()
    assert lines, "the full queue spilled"
    for line in lines:
        event = json.loads(line)
        assert (event["input_tokens"], event["output_tokens"], event["cache_read_tokens"]) == (1500, 420, 1024)
        assert event["reasoning_tokens"] == 128 and event["event_id"]
    store = await open_store(f"sqlite:///{db}")
    try:
        for _ in range(2):
            result = await ingest_lines(store, lines, Pricer())
            assert result.errors == []
    finally:
        await store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*), sum(input_tokens) FROM events").fetchone() == (20, 20 * 1500)
