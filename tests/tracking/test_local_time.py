"""Local days and clock hours from the quarter-hour rollups, in zones offset by 30 or 45 minutes and across
daylight-saving switches: exact after retention removed the raw events, with a number of queries that does not
grow with the period or with the zone; latency percentiles counting the period's calls only."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.latency import bucket, middle_ms
from matrix_usage_bot.tracking.maintenance import apply_retention
from matrix_usage_bot.tracking.periods import parse_period, zone
from matrix_usage_bot.tracking.queries import latency_by_model, usage_report
from matrix_usage_bot.tracking.store import open_store

ROOM = "!r:x"


def record(url: str, events: list[dict]) -> None:
    with tracking.Tracker(url) as tracker:
        for i, event in enumerate(events):
            tracker.record(provider="openai", model="gpt-4o", room_id=ROOM, event_id=f"e{i}", **event)


def counted(store) -> Counter:
    """Counts every query the store sends from now on."""
    calls: Counter = Counter()
    fetch = store._fetchall

    async def counting(sql, params=()):
        calls["queries"] += 1
        calls["raw"] += " FROM events " in sql
        return await fetch(sql, params)

    store._fetchall = counting
    return calls


async def test_hours_are_local_clock_hours_and_a_day_starts_at_its_midnight(store_url):
    at = datetime(2026, 5, 9, 18, tzinfo=UTC)  # 23:30 in Kolkata, 23:45 in Kathmandu
    record(store_url, [{"ts": at + timedelta(minutes=m), "input_tokens": n}
                       for m, n in ((10, 11), (40, 13), (65, 17), (80, 19))])  # fmt: skip
    store = await open_store(store_url)
    try:
        kolkata = parse_period("2026-05-09..2026-05-10", zone("Asia/Kolkata"))
        hours = await usage_report(store, kolkata, group="hour", room_id=ROOM)
        assert [(r.key, r.calls, r.input_tokens) for r in hours.rows] == [
            ("2026-05-09 23:00", 1, 11), ("2026-05-10 00:00", 3, 49)]  # fmt: skip
        days = await usage_report(store, kolkata, group="day", room_id=ROOM)
        assert [(r.key, r.calls) for r in days.rows] == [("2026-05-09", 1), ("2026-05-10", 3)]
        kathmandu = parse_period("2026-05-10", zone("Asia/Kathmandu"))
        hours = await usage_report(store, kathmandu, group="hour", room_id=ROOM)
        assert [(r.key, r.calls, r.input_tokens) for r in hours.rows] == [
            ("2026-05-10 00:00", 2, 30), ("2026-05-10 01:00", 1, 19)]  # fmt: skip
    finally:
        await store.close()


def brute_force(events: list[dict], tz_name: str, start: datetime, end: datetime, unit: str) -> dict:
    """{local day or clock hour: (calls, input tokens)} of the events in [start, end), by the wall clock."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for e in events:
        if start <= e["ts"] < end:
            local = e["ts"].astimezone(zone(tz_name))
            key = local.date().isoformat() if unit == "day" else local.strftime("%Y-%m-%d %H:00")
            out[key][0] += 1
            out[key][1] += e["input_tokens"]
    return {k: tuple(v) for k, v in out.items()}


SWITCHES = [datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 4, 3, tzinfo=UTC)]  # St. John's 8 March, Adelaide 5 April


@pytest.mark.parametrize("tz_name", ["Asia/Kolkata", "Asia/Kathmandu", "Australia/Adelaide", "America/St_Johns"])
async def test_local_days_and_hours_are_exact_from_rollups_alone(store_url, tz_name):
    events = [{"ts": first + timedelta(minutes=7 * i + 3), "input_tokens": i % 97 + 1, "latency_ms": 50.0 + i}
              for first in SWITCHES for i in range(4 * 24 * 60 // 7)]  # fmt: skip
    record(store_url, events)
    tz = zone(tz_name)
    periods = [parse_period(p, tz) for p in ("2026-03-07..2026-03-09", "2026-03-08", "2026-04-04..2026-04-06",
                                             "2026-04-05", "2026-03")]  # fmt: skip
    store = await open_store(store_url)
    try:
        expected = {(p.label, unit): brute_force(events, tz_name, p.start, p.end, unit)
                    for p in periods for unit in ("day", "hour")}  # fmt: skip
        for keep_raw in (True, False):
            if not keep_raw:  # every raw event goes; the answers stay, to the call and the token
                now_ms = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp() * 1000)
                assert await apply_retention(store, 1, now_ms=now_ms) == len(events)
            for p in periods:
                for unit in ("day", "hour"):
                    report = await usage_report(store, p, group=unit, room_id=ROOM)
                    got = {r.key: (r.calls, r.input_tokens) for r in report.rows}
                    assert got == expected[(p.label, unit)], (p.label, unit, keep_raw)
                total = sum(calls for calls, _ in expected[(p.label, "day")].values())
                assert (await usage_report(store, p, room_id=ROOM)).totals.calls == total
    finally:
        await store.close()


async def test_work_does_not_grow_with_the_period_or_in_a_half_hour_zone(store_url):
    first = datetime(2024, 1, 1, 0, 7, tzinfo=UTC)
    events = [{"ts": first + timedelta(hours=67 * i + 11, minutes=i % 60), "input_tokens": 3} for i in range(380)]
    record(store_url, events)
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    store = await open_store(store_url)
    calls = counted(store)
    try:
        counts: dict[tuple[str, str], set[int]] = defaultdict(set)
        for tz_name in ("UTC", "Asia/Kolkata", "Asia/Kathmandu"):
            for text in ("2026-11-03", "2026-10", "2025-02-01..2026-11-19", "all"):
                period = parse_period(text, zone(tz_name), now)
                for unit in ("day", "hour"):
                    calls.clear()
                    report = await usage_report(store, period, group=unit)
                    counts[(tz_name, unit)].add(calls["queries"])
                    assert calls["raw"] == 0  # calendar periods: rollups alone
                    assert report.totals.calls == sum(1 for e in events if period.start <= e["ts"] < period.end)
        for unit in ("day", "hour"):
            utc = counts[("UTC", unit)]
            assert len(utc) == 1
            for tz_name in ("Asia/Kolkata", "Asia/Kathmandu"):
                assert len(counts[(tz_name, unit)]) == 1 and max(counts[(tz_name, unit)]) <= max(utc)
        # a span to the second (the last N hours) reads the raw events at its two edges only
        calls.clear()
        await usage_report(store, parse_period("700h", zone("Asia/Kolkata"), now + timedelta(seconds=7)), group="day")
        assert (calls["queries"], calls["raw"]) == (3, 2)
    finally:
        await store.close()


async def test_latency_percentiles_count_the_calls_of_the_period_only(store_url):
    day = datetime(2026, 6, 1, 18, 30, tzinfo=UTC)  # 2026-06-02 00:00 in Kolkata, in the middle of a UTC hour
    inside = [(day + timedelta(hours=12, minutes=i), 110.0) for i in range(21)]
    inside += [(day + timedelta(minutes=10 + i), 900.0) for i in range(4)]  # in the first, partial UTC hour
    before = [(day - timedelta(minutes=25 - i), 40_000.0) for i in range(20)]  # same UTC hour, before midnight
    after = [(day + timedelta(days=1, minutes=5 + i), 60_000.0) for i in range(20)]  # same UTC hour, next day
    record(store_url, [{"ts": ts, "latency_ms": ms, "input_tokens": 1} for ts, ms in inside + before + after])
    period = parse_period("2026-06-02", zone("Asia/Kolkata"))
    store = await open_store(store_url)
    try:
        figures = (await latency_by_model(store, period, room_id=ROOM))["gpt-4o"]
        # 25 calls: the 13th (median) is 110 ms, the 24th (p95) 900 ms
        expected = (25, middle_ms(bucket(110)), middle_ms(bucket(900)))
        assert (figures.calls, figures.median_ms, figures.p95_ms) == expected
        hours = parse_period("2026-06-02", zone("UTC"))  # whole UTC hours: the histograms alone
        assert (await latency_by_model(store, hours, room_id=ROOM))["gpt-4o"].calls == 21 + 20
    finally:
        await store.close()
