"""Runway as the dashboard and `!usage quota` show it (`tracking.advice.runway`, worded by the chat's
`runway_text`): when a quota runs out at the pace so far in its window, at several instants of a month."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from matrix_usage_bot.bot.render.quotas import runway_text
from matrix_usage_bot.tracking.advice import runway
from matrix_usage_bot.tracking.amounts import parse_amount
from matrix_usage_bot.tracking.quotas import Quota, QuotaStatus, window_period

BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")


def status(limit: str, used: int, now: datetime, tz: ZoneInfo = BERLIN, window: str = "monthly") -> QuotaStatus:
    quota = Quota("room", window, parse_amount(limit))  # type: ignore[arg-type]
    return QuotaStatus(quota, "!r:x", used, window_period(window, tz, now))


def local(*args: int, tz: ZoneInfo = BERLIN) -> datetime:
    return datetime(*args, tzinfo=tz)


@pytest.mark.parametrize(
    ("now", "limit", "used", "expected"),
    [
        # 9 of November's 30 days gone, 450k of 1M used: 50k a day, 550k left is 11 more days
        (local(2026, 11, 10), "1m", 450_000, "runs out about 21 Nov 00:00"),
        # early: 6 hours into the month, 30k used: 5k an hour, 70k left is 14 hours more
        (local(2026, 11, 1, 6), "100k", 30_000, "runs out about 1 Nov 20:00"),
        # late: 29.5 days gone, 980k used: the last 20k take longer than the 12 hours left
        (local(2026, 11, 30, 12), "1m", 980_000, "lasts the window"),
        # February of 28 days: 14 days gone, 700k used: 50k a day, 300k left is 6 days
        (local(2027, 2, 15), "1m", 700_000, "runs out about 21 Feb 00:00"),
        # the clocks go back on 25 October: 1 October 00:00 (+02:00) to 26 October 00:00 (+01:00) is 601 hours;
        # a token an hour, 99 left: 99 hours later, in winter time
        (local(2026, 10, 26), "700", 601, "runs out about 30 Oct 03:00"),
        # a dollar quota ($50, in pico-dollars): $20 in 10 days of 30, $30 left is 15 days more
        (local(2026, 11, 11), "$50", 20 * 10**12, "runs out about 26 Nov 00:00"),
        (local(2026, 11, 11), "1m", 0, "lasts the window"),
        (local(2026, 11, 11), "1m", 1_000_000, "used up"),
    ],
)
def test_runway_at_instants_of_a_month(now, limit, used, expected):
    assert runway_text(runway(status(limit, used, now), now)) == expected


def test_runway_in_a_half_hour_timezone_and_an_hourly_window():
    now = local(2026, 11, 5, 10, 45, tz=KOLKATA)  # 45 minutes into the local hour 10:00 to 11:00
    hourly = status("4000", 1500, now, KOLKATA, "hourly")  # 1500 in 45 min: 2500 left take 75 min: past 11:00
    assert runway(hourly, now).runs_out is None
    daily = status("1m", 600_000, local(2026, 11, 5, 12, tz=KOLKATA), KOLKATA, "daily")  # 50k an hour: 8 more
    assert runway_text(runway(daily, local(2026, 11, 5, 12, tz=KOLKATA))) == "runs out about 5 Nov 20:00"
