"""One bad event costs that event only: the rest of its batch is stored, the event is kept in `rejected_events`
with the reason, and every flush completes."""

from __future__ import annotations

import asyncio
import json
import math

import tracking
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
