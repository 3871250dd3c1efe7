"""Runway: when a quota runs out at the pace so far in its window, at several instants of a month, in a month of
28 days and across a DST change; and when that is early enough for a warning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.advice import runway
from matrix_usage_bot.tracking.amounts import Amount
from matrix_usage_bot.tracking.quotas import QuotaBook
from matrix_usage_bot.tracking.quotas.model import Quota
from matrix_usage_bot.tracking.settings import QuotaSettings
from matrix_usage_bot.tracking.store import open_store

ROOM = "!runway:x"
BERLIN = ZoneInfo("Europe/Berlin")


def local(*args: int, tz: ZoneInfo = BERLIN) -> datetime:
    return datetime(*args, tzinfo=tz)


async def status_at(url: str, now: datetime, used: list[tuple[datetime, int]], limit: int, window: str = "monthly",
                    tz: ZoneInfo = BERLIN):  # fmt: skip
    async with tracking.Tracker(url) as tracker:
        for i, (ts, tokens) in enumerate(used):
            tracker.record(provider="openai", model="gpt-4o", input_tokens=tokens, output_tokens=0, ts=ts,
                           room_id=ROOM, event_id=f"{now.isoformat()}-{i}")  # fmt: skip
    store = await open_store(url)
    try:
        quota = Quota("room", window, Amount("tokens", Decimal(limit)))  # type: ignore[arg-type]
        return await QuotaBook(store, QuotaSettings(), tz, lambda: now).status(quota, (ROOM,))
    finally:
        await store.close()


def pace(start: datetime, now: datetime, used: int, limit: int) -> datetime:
    """Written out: the instant the window's use reaches the limit at its average rate so far (to the ms), in
    real time (in UTC: Python's arithmetic on two times of one zone is wall-clock time)."""
    start, now = start.astimezone(UTC), now.astimezone(UTC)
    elapsed_ms = (now - start) // timedelta(milliseconds=1)
    return (start + timedelta(milliseconds=elapsed_ms * limit // used)).astimezone(BERLIN)


@pytest.mark.parametrize(("now", "month_start", "month_end", "used", "limit"), [
    # early in a 30-day month: 3 days in, 200k of 1M: runs out on 15 Nov (no DST that month)
    (local(2026, 11, 4, 0, 0), local(2026, 11, 1), local(2026, 12, 1), 200_000, 1_000_000),
    # a month of 28 days: 7 days in, 300k of 1M: runs out on 24 Feb 08:00
    (local(2026, 2, 8, 0, 0), local(2026, 2, 1), local(2026, 3, 1), 300_000, 1_000_000),
    # after the change to summer time (29 March 2026, 02:00 -> 03:00): 707 real hours in, not 708
    (local(2026, 3, 30, 12, 0), local(2026, 3, 1), local(2026, 4, 1), 990_000, 1_000_000),
    # late in the month: runs out in the window's last day
    (local(2026, 10, 30, 18, 0), local(2026, 10, 1), local(2026, 11, 1), 970_000, 1_000_000),
])  # fmt: skip
async def test_runway_is_the_pace_so_far_in_the_window(db_url, now, month_start, month_end, used, limit):
    status = await status_at(db_url, now, [(month_start + timedelta(minutes=7), used)], limit)
    found = runway(status, now)
    expected = pace(month_start, now, used, limit)
    assert found is not None and found.runs_out == expected and found.runs_out.tzinfo == BERLIN
    assert status.period.end == month_end
    assert found.early == (month_end.astimezone(UTC) - expected.astimezone(UTC) > timedelta(days=1))


async def test_a_runway_across_the_dst_change_ends_in_summer_time(db_url):
    """10 days into March at 330k of 1M: 727 h 16 min of real time from 1 March 00:00 CET, past 29 March's change
    to summer time, so 31 March 08:16 on the wall clock (07:16 in winter time): less than a day before the month
    ends in real time (15 h 44 min; 16 h 44 min by a winter-time clock), so not early."""
    now = local(2026, 3, 11, 0, 0)
    status = await status_at(db_url, now, [(local(2026, 3, 1, 0, 1), 330_000)], 1_000_000)
    found = runway(status, now)
    assert found.runs_out == datetime(2026, 3, 31, 6, 16, 21, 818000, tzinfo=UTC)
    assert (found.runs_out.hour, found.runs_out.minute, found.runs_out.utcoffset()) == (8, 16, timedelta(hours=2))
    assert not found.early
    later = local(2026, 3, 21, 0, 0)  # 20 days in, 600k: 33.3 days at that pace: lasts the window
    status = await status_at(db_url, later, [(local(2026, 3, 2), 270_000)], 1_000_000)
    assert runway(status, later).lasts_window


async def test_used_up_lasting_and_no_use(db_url):
    now = local(2026, 11, 20, 9, 30)
    assert runway(await status_at(db_url, now, [], 1_000), now).lasts_window  # nothing used: no pace
    assert runway(await status_at(db_url, now, [(local(2026, 11, 2), 2_000)], 1_000), now).used_up
    slow = await status_at(db_url, now, [(local(2026, 11, 3), 10)], 10_000_000)
    assert runway(slow, now).lasts_window and not runway(slow, now).early


async def test_an_hourly_quota_in_a_zone_offset_by_half_an_hour(db_url):
    kolkata = ZoneInfo("Asia/Kolkata")
    now = datetime(2026, 11, 20, 14, 20, tzinfo=kolkata)  # 20 minutes into the clock hour 14:00 to 15:00
    status = await status_at(db_url, now, [(datetime(2026, 11, 20, 14, 5, tzinfo=kolkata), 500)], 1_000, "hourly",
                             kolkata)  # fmt: skip
    found = runway(status, now)
    assert found.runs_out == datetime(2026, 11, 20, 14, 40, tzinfo=kolkata)
    assert not found.early  # an hourly window is never early by a day
    assert runway(status, now + timedelta(hours=1)) is None  # that window is over


async def test_no_early_warning_in_the_first_hour(db_url):
    now = local(2026, 12, 1, 0, 45)
    status = await status_at(db_url, now, [(local(2026, 12, 1, 0, 10), 50_000)], 1_000_000)
    found = runway(status, now)
    assert found.runs_out == pace(local(2026, 12, 1), now, 50_000, 1_000_000) and not found.early
    an_hour_on = runway(status, local(2026, 12, 1, 1, 45))  # the same use an hour later: 2 Dec 11:00, early
    assert an_hour_on.runs_out == local(2026, 12, 2, 11, 0) and an_hour_on.early
