from datetime import UTC, date, datetime

import pytest

from matrix_usage_bot.tracking.periods import PeriodError, parse_period, zone

BERLIN = zone("Europe/Berlin")
NEW_YORK = zone("America/New_York")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_today_is_local_calendar_day():
    # 23:30 UTC on 31 Dec is already 1 Jan in Berlin.
    p = parse_period("today", BERLIN, now=at("2025-12-31T23:30:00+00:00"))
    assert (p.first_day, p.end_day) == (date(2026, 1, 1), date(2026, 1, 2))
    assert p.start == at("2025-12-31T23:00:00+00:00")


def test_month_ends_and_leap_day():
    p = parse_period("month", BERLIN, now=at("2024-02-29T12:00:00+00:00"))
    assert (p.first_day, p.end_day) == (date(2024, 2, 1), date(2024, 3, 1))
    assert len(p.days()) == 29
    assert parse_period("2023-02", BERLIN).end_day == date(2023, 3, 1)
    assert parse_period("2024-12", BERLIN).end_day == date(2025, 1, 1)
    assert parse_period("2024-02-29", BERLIN).end_day == date(2024, 3, 1)
    with pytest.raises(PeriodError, match="day is out of range"):
        parse_period("2023-02-29", BERLIN)
    y = parse_period("yesterday", BERLIN, now=at("2024-03-01T10:00:00+00:00"))
    assert y.first_day == date(2024, 2, 29)


def test_dst_days_are_23_and_25_hours_long():
    spring = parse_period("2026-03-08", NEW_YORK)
    assert (spring.end - spring.start).total_seconds() == 23 * 3600
    autumn = parse_period("2026-11-01", NEW_YORK)
    assert (autumn.end - autumn.start).total_seconds() == 25 * 3600
    march = parse_period("2026-03", BERLIN)
    assert march.start == at("2026-02-28T23:00:00+00:00")
    assert march.end == at("2026-03-31T22:00:00+00:00")


def test_rolling_and_ranges():
    now = at("2026-11-22T10:00:00+00:00")
    assert parse_period("week", BERLIN, now).first_day == date(2026, 11, 16)
    assert parse_period("1d", BERLIN, now).first_day == date(2026, 11, 22)
    assert parse_period("30d", BERLIN, now).first_day == date(2026, 10, 24)
    r = parse_period("2024-02-28..2024-03-01", BERLIN)
    assert len(r.days()) == 3
    assert parse_period("all", BERLIN, now).first_day == date(2000, 1, 1)  # the first day an event may have
    assert parse_period("all", zone("America/Denver"), now).first_day == date(1999, 12, 31)


@pytest.mark.parametrize(
    "text", ["", "tomorrow", "0d", "99999d", "2026-13", "2026-02-30", "2026-03-02..2026-03-01", "week2"]
)
def test_bad_periods_say_what_is_accepted(text):
    with pytest.raises(PeriodError) as info:
        parse_period(text, BERLIN)
    assert repr(text) in str(info.value)


def test_unknown_timezone():
    with pytest.raises(PeriodError, match="unknown timezone 'Mars/Base'"):
        zone("Mars/Base")
