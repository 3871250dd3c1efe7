"""Breakdowns by operation and by hour, latency percentiles from the rollups' histograms (they outlive
retention), the month-end projection, and migration 8 on a store of version 7."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.latency import bucket, middle_ms, percentile
from matrix_usage_bot.tracking.maintenance import apply_retention
from matrix_usage_bot.tracking.periods import parse_period, zone
from matrix_usage_bot.tracking.queries import latency_by_model, month_projection, usage_report
from matrix_usage_bot.tracking.store import open_store
from matrix_usage_bot.tracking.store.schema import LATEST
from tests.dbrows import rows
from tests.oldstores import build, execute

T0 = datetime(2026, 11, 14, 9, 10, tzinfo=UTC)
ROOM = "!r:x"


def write(url: str, events: list[dict]) -> None:
    with tracking.Tracker(url) as tracker:
        for i, event in enumerate(events):
            tracker.record(provider="openai", model="gpt-4o", room_id=ROOM, event_id=f"e{i}", **event)


def true_percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


async def test_operations_hours_and_latency(store_url: str):
    latencies = [120.0 + 37 * i for i in range(40)] + [9_000.0, 15_000.0]
    events = [{"ts": T0 + timedelta(minutes=3 * i), "latency_ms": ms, "input_tokens": 100, "output_tokens": 10,
               "operation": "embedding" if i % 4 == 0 else "chat", "status": "error" if i % 10 == 0 else "ok"}
              for i, ms in enumerate(latencies)]  # fmt: skip
    write(store_url, events)
    store = await open_store(store_url)
    try:
        day = parse_period("2026-11-14", zone("Asia/Kolkata"))
        ops = await usage_report(store, day, group="operation", room_id=ROOM)
        assert {r.key: (r.calls, r.error_calls) for r in ops.rows} == {"chat": (31, 2), "embedding": (11, 3)}
        assert ops.totals.error_calls == 5
        hours = await usage_report(store, day, group="hour", room_id=ROOM)
        # 09:10 UTC is 14:40 in Kolkata: calls every 3 minutes from 14:40 to 16:43, by local clock hour
        assert [(r.key, r.calls) for r in hours.rows] == [("2026-11-14 14:00", 7), ("2026-11-14 15:00", 20),
                                                          ("2026-11-14 16:00", 15)]  # fmt: skip

        figures = (await latency_by_model(store, day, room_id=ROOM))["gpt-4o"]
        assert figures.calls == 42
        for q, got in ((0.5, figures.median_ms), (0.95, figures.p95_ms)):
            exact = true_percentile(latencies, q)
            b = math.ceil(math.log2(exact) * 8)  # bucket b holds (2^((b-1)/8), 2^(b/8)] ms
            assert got == 2 ** ((b - 0.5) / 8)
            assert abs(got / exact - 1) <= 2 ** (1 / 16) - 1  # the documented precision
        elsewhere = await latency_by_model(store, day, room_id="!other:x")
        assert elsewhere == {}

        utc_day = parse_period("2026-11-14", zone("UTC"))
        assert await latency_by_model(store, utc_day, room_id=ROOM) == {"gpt-4o": figures}

        # raw events go with retention; the histograms (per UTC day) and the operations stay
        assert await apply_retention(store, 1, now_ms=int((T0 + timedelta(days=30)).timestamp() * 1000)) == 42
        assert await latency_by_model(store, utc_day, room_id=ROOM) == {"gpt-4o": figures}
        assert await latency_by_model(store, day, room_id=ROOM) == {}  # no whole UTC day in Kolkata's day
        again = await usage_report(store, day, group="operation", room_id=ROOM)
        assert {r.key: r.calls for r in again.rows} == {"chat": 31, "embedding": 11}
    finally:
        await store.close()


def test_buckets_and_percentiles():
    assert [bucket(x) for x in (0, 1, 1.01, 2, 2.0001, 1000)] == [0, 0, 1, 8, 9, 80]
    assert middle_ms(8) == 2 ** (7.5 / 8)
    assert percentile({}, 0.5) is None
    assert percentile({8: 1, 80: 99}, 0.01) == middle_ms(8) and percentile({8: 1, 80: 99}, 0.5) == middle_ms(80)


async def test_month_projection_at_the_current_pace(store_url: str):
    # gpt-4o: 1M input tokens cost $2.50; three such calls by 11 November 00:00 UTC (10 of 30 days)
    write(store_url, [{"ts": datetime(2026, 11, d, tzinfo=UTC), "input_tokens": 1_000_000} for d in (2, 5, 8)])
    store = await open_store(store_url)
    try:
        now = datetime(2026, 11, 11, tzinfo=UTC)
        month = parse_period("month", zone("UTC"), now)
        pace = month_projection(await usage_report(store, month, room_id=ROOM), now)
        assert pace is not None and (pace.cost_pusd, pace.last_day.isoformat()) == (22_500_000_000_000, "2026-11-30")
        assert month_projection(await usage_report(store, month, room_id=ROOM), month.start) is None
    finally:
        await store.close()


async def test_migration_8_fills_operations_from_the_raw_events(empty_store_url: str):
    store_url = empty_store_url  # built at version 7 here
    build(store_url, 7)
    execute(store_url, ["INSERT INTO events (event_id, ts_ms, hour, room_id, thread_id, agent, user_id, operation,"
                        " provider, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,"
                        " reasoning_tokens, cost_pusd, status) VALUES ('old', 1790000000000, 497222, '!r:x', '', 'a',"
                        " '', 'summary', 'openai', 'gpt-4o', 100, 5, 0, 0, 0, 777, 'error')"])  # fmt: skip
    async with tracking.Tracker(store_url) as tracker:
        tracker.record(provider="openai", model="gpt-4o", input_tokens=1, room_id="!r:x", ts=1_790_000_000)
    store = await open_store(store_url)
    try:
        assert await store.schema_version() == LATEST
        report = await usage_report(store, parse_period("all", zone("UTC")), group="operation", room_id="!r:x")
    finally:
        await store.close()
    assert [(r.key, r.calls, r.input_tokens, r.cost_pusd, r.error_calls, r.estimated_calls) for r in report.rows] == [
        ("chat", 1, 1, 2_500_000, 0, 0), ("summary", 1, 100, 777, 1, 0)]  # fmt: skip
    assert rows(store_url, "SELECT usage_source, input_cost_pusd FROM events WHERE event_id = 'old'") == [
        ("provider", None)]  # fmt: skip
