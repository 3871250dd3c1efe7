"""Quarter-hour slots against tzdata: every UTC offset in use from 2000 to 2099 is a whole number of quarter
hours (so every local midnight and clock hour starts on a slot), and the offsets `tracking.slots` finds are
tzdata's own. Local day and hour keys around daylight-saving switches, in zones offset by 30 and 45 minutes."""

from __future__ import annotations

import itertools
import zoneinfo
from datetime import UTC, datetime, timedelta
from zoneinfo import _zoneinfo  # the pure-Python reference implementation: it shows a zone's transitions

import pytest

from matrix_usage_bot.tracking.slots import SLOTS_PER_DAY, SLOTS_PER_HOUR, local_label, local_runs, offset_runs

START, END = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp()), int(datetime(2100, 1, 1, tzinfo=UTC).timestamp())
QUARTER = 900


def transitions(key: str) -> tuple[int, list[tuple[int, int]]]:
    """(offset in seconds at 2000-01-01, [(UTC second, new offset)] of every change of offset up to 2099)."""
    zone = _zoneinfo.ZoneInfo.no_cache(key)
    listed = zip(zone._trans_utc, zone._ttinfos, strict=True)
    changes = [(int(t), int(info.utcoff.total_seconds())) for t, info in listed]
    last = changes[-1][0] if changes else -(2**62)
    rule = zone._tz_after
    if isinstance(rule, _zoneinfo._TZStr):  # the POSIX rule after the last listed transition, year by year
        std, dst = int(rule.std.utcoff.total_seconds()), int(rule.dst.utcoff.total_seconds())
        for year in range(1970, 2101):
            start, end = rule.transitions(year)
            changes += [(int(t), off) for t, off in ((start - std, dst), (end - dst, std)) if t > last]
    elif not changes:
        changes = [(-(2**62), int(rule.utcoff.total_seconds()))]
    changes.sort()
    at_start = next((off for t, off in reversed(changes) if t <= START), changes[0][1])
    real, current = [], at_start
    for t, off in changes:
        if START < t < END and off != current:
            real.append((t, off))
        if t > START:
            current = off
    return at_start, real


ALL_ZONES = sorted(zoneinfo.available_timezones())


def test_every_offset_in_use_from_2000_to_2099_is_whole_quarter_hours():
    switches, off_grid = 0, []
    for key in ALL_ZONES:
        at_start, changes = transitions(key)
        assert at_start % QUARTER == 0, key
        for t, offset in changes:
            assert offset % QUARTER == 0, (key, offset)
            switches += 1
            if t % QUARTER:
                off_grid.append((key, t))
        gaps = [b - a for (a, _), (b, _) in itertools.pairwise(changes)]
        assert min(gaps, default=7 * 86400) > 86400, key  # `slots` samples daily: no two switches in one day
    assert switches > 10_000 and len(ALL_ZONES) > 400  # the installed tzdata, not an empty one
    # A few zones switched at one minute past a quarter hour (00:01 local in St. John's until 2011), never since
    # 2023: the slot holding such a switch counts with the offset at its start, local periods stay whole slots.
    assert all(t % QUARTER == 60 and t < datetime(2023, 1, 1, tzinfo=UTC).timestamp() for _, t in off_grid), off_grid


ZONES = ["Asia/Kolkata", "Asia/Kathmandu", "Australia/Adelaide", "America/St_Johns", "America/New_York",
         "Europe/Berlin", "Australia/Lord_Howe", "Pacific/Chatham", "Australia/Eucla", "America/Santiago",
         "Asia/Gaza", "Antarctica/Casey", "Pacific/Apia", "UTC"]  # fmt: skip


@pytest.mark.parametrize("key", ZONES)
def test_offset_runs_are_the_tzdata_switches_to_the_slot(key):
    at_start, changes = transitions(key)
    runs = offset_runs(zoneinfo.ZoneInfo(key), START // QUARTER, END // QUARTER)
    assert runs[0][:1] == (START // QUARTER,) and runs[-1][1] == END // QUARTER
    assert all(a[1] == b[0] for a, b in itertools.pairwise(runs))  # contiguous
    expected = [(START // QUARTER, at_start // QUARTER)] + [(-(-t // QUARTER), off // QUARTER) for t, off in changes]
    assert [(first, offset) for first, _, offset in runs] == expected


def slot(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp()) // QUARTER


def labels(key: str, unit: int, first: str, count: int) -> list[str]:
    """The local label of each of `count` slots from the instant `first`."""
    start = slot(first)
    runs = local_runs(zoneinfo.ZoneInfo(key), unit, start, start + count)
    return [local_label(unit, run.key(s)) for run in runs for s in range(run.start, run.end)]


def test_local_hours_in_half_and_three_quarter_hour_zones():
    # 18:30 UTC is midnight in Kolkata, 18:15 in Kathmandu: the local day's first hour is dated that day
    assert labels("Asia/Kolkata", SLOTS_PER_HOUR, "2026-11-14T18:00+00:00", 4) == [
        "2026-11-14 23:00", "2026-11-14 23:00", "2026-11-15 00:00", "2026-11-15 00:00"]  # fmt: skip
    assert labels("Asia/Kathmandu", SLOTS_PER_HOUR, "2026-11-14T18:00+00:00", 2) == [
        "2026-11-14 23:00", "2026-11-15 00:00"]  # fmt: skip
    assert labels("Asia/Kathmandu", SLOTS_PER_DAY, "2026-11-14T18:00+00:00", 2) == ["2026-11-14", "2026-11-15"]


def test_local_hours_across_daylight_saving_switches():
    # Adelaide goes from +10:30 to +9:30 at 03:00 local on 5 April 2026 (16:30 UTC): 02:00 to 03:00 twice
    assert labels("Australia/Adelaide", SLOTS_PER_HOUR, "2026-04-04T15:45+00:00", 6) == [
        "2026-04-05 02:00", "2026-04-05 02:00", "2026-04-05 02:00", "2026-04-05 02:00", "2026-04-05 02:00",
        "2026-04-05 02:00"]  # fmt: skip
    # St. John's (-3:30) springs to -2:30 at 02:00 local on 8 March 2026 (05:30 UTC): 02:00 never happens
    assert labels("America/St_Johns", SLOTS_PER_HOUR, "2026-03-08T05:00+00:00", 4) == [
        "2026-03-08 01:00", "2026-03-08 01:00", "2026-03-08 03:00", "2026-03-08 03:00"]  # fmt: skip
    # in 2010 it fell back at 00:01 local: that minute's slot and the repeated hour stay on the new day
    assert labels("America/St_Johns", SLOTS_PER_DAY, "2010-11-07T02:15+00:00", 4) == [
        "2010-11-06", "2010-11-07", "2010-11-07", "2010-11-07"]  # fmt: skip


def test_local_days_of_a_year_are_its_days():
    for key in ("Australia/Adelaide", "America/St_Johns", "Asia/Kathmandu", "Pacific/Chatham"):
        tz = zoneinfo.ZoneInfo(key)
        midnights = [datetime(2026, 1, 1, tzinfo=tz) + timedelta(days=n) for n in range(366)]  # wall clock days
        start, end = (int(m.timestamp()) // QUARTER for m in (midnights[0], midnights[-1]))
        days: dict[str, int] = {}
        for run in local_runs(tz, SLOTS_PER_DAY, start, end):
            for s in range(run.start, run.end):
                label = local_label(SLOTS_PER_DAY, run.key(s))
                days[label] = days.get(label, 0) + 1
        expected = {a.date().isoformat(): int(b.timestamp() - a.timestamp()) // QUARTER
                    for a, b in itertools.pairwise(midnights)}  # fmt: skip
        assert days == expected, key
        assert sorted(set(expected.values())) in ([92, 96, 100], [96])
