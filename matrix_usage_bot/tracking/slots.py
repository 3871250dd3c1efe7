"""Quarter-hour slots, the time grain of the sum rollups, and local days and hours as runs of slots.

A slot is 15 minutes: slot `s` covers [s * 900 s, (s + 1) * 900 s) since 1970-01-01 UTC. Every UTC offset in
use from 2000 to 2099 is a whole number of quarter hours (tests/tracking/test_slots.py checks every zone of
the installed tzdata), so every local midnight and every local clock hour starts on a slot, in UTC+5:30 and
UTC+5:45 as in UTC: any calendar period in any zone is a whole number of slots, answered from rollups alone.
(A few zones switched offset at one minute past a quarter hour before 2023, St. John's at 00:01 until 2011
for one: the slot holding such a switch counts with the offset at its start.)

A local day or hour is keyed by its number since 1970-01-01 in local time: `(slot + offset) // unit` over a
run of slots with one UTC offset. Where a clock is turned back, a slot never gets a key before one already
reached (the repeated hour keeps its clock hour; a day runs from its first midnight to the next, as a
`Period` does).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

MS_PER_SLOT = 900_000
MS_PER_DAY = 86_400_000
SLOTS_PER_HOUR = 4
SLOTS_PER_DAY = 96
_SECONDS_PER_SLOT = MS_PER_SLOT // 1000
_EPOCH = datetime(1970, 1, 1)


def _offset(tz: tzinfo, slot: int) -> int:
    """The UTC offset at the start of a slot, in slots (rounded down where it is not a quarter hour)."""
    offset = datetime.fromtimestamp(slot * _SECONDS_PER_SLOT, tz).utcoffset()
    return int(offset.total_seconds()) // _SECONDS_PER_SLOT if offset is not None else 0


def _first_slot(year: int) -> int:
    return int(datetime(year, 1, 1, tzinfo=UTC).timestamp()) // _SECONDS_PER_SLOT


@functools.lru_cache(maxsize=2048)
def _year_offsets(tz: tzinfo, year: int) -> tuple[tuple[int, int], ...]:
    """(first slot, offset) of each run of one UTC offset in a UTC year, the first from the year's first slot.

    The offset is sampled daily and a change found to the slot by bisection: tzdata's switches since
    2000 are at least six days apart (the slots test checks this too), so none is missed.
    """
    start, end = _first_slot(year), _first_slot(year + 1)
    runs = [(start, _offset(tz, start))]
    seen, seen_offset = start, runs[0][1]
    for sample in [*range(start + SLOTS_PER_DAY, end, SLOTS_PER_DAY), end]:
        offset = _offset(tz, sample)
        if offset != seen_offset:
            before, after = seen, sample
            while after - before > 1:
                middle = (before + after) // 2
                before, after = (middle, after) if _offset(tz, middle) == seen_offset else (before, middle)
            if after < end:
                runs.append((after, _offset(tz, after)))
        seen, seen_offset = sample, offset
    return tuple(runs)


def offset_runs(tz: tzinfo, start: int, end: int) -> list[tuple[int, int, int]]:
    """(first slot, end slot, offset in slots) of each run of one UTC offset covering slots [start, end)."""
    year = datetime.fromtimestamp(start * _SECONDS_PER_SLOT, UTC).year
    last_year = datetime.fromtimestamp((end - 1) * _SECONDS_PER_SLOT, UTC).year
    starts: list[tuple[int, int]] = []
    for y in range(year, last_year + 1):
        for first, offset in _year_offsets(tz, y):
            if not starts or starts[-1][1] != offset:
                starts.append((first, offset))
    runs = []
    for i, (first, offset) in enumerate(starts):
        until = starts[i + 1][0] if i + 1 < len(starts) else end
        a, b = max(first, start), min(until, end)
        if a < b:
            runs.append((a, b, offset))
    return runs


@dataclass(frozen=True, slots=True)
class LocalRun:
    """Slots [start, end) keyed by their local day or hour: `(slot + offset) // unit`, or `fixed` for all."""

    start: int
    end: int
    unit: int
    offset: int = 0
    fixed: int | None = None

    def key(self, slot: int) -> int:
        return self.fixed if self.fixed is not None else (slot + self.offset) // self.unit

    def slot_sql(self) -> str:
        """The key as SQL over a table of slots (`slot` column)."""
        if self.fixed is not None:
            return str(self.fixed)
        return f"(slot {'-' if self.offset < 0 else '+'} {abs(self.offset)}) / {self.unit}"

    def hour_sql(self) -> str | None:
        """The key as SQL over a table of UTC hours (`hour` column), where whole UTC hours have one key (every
        zone but those offset by 30 or 45 minutes)."""
        if self.fixed is not None:
            return str(self.fixed)
        if self.offset % SLOTS_PER_HOUR:
            return None
        hours = self.offset // SLOTS_PER_HOUR
        shifted = f"(hour {'-' if hours < 0 else '+'} {abs(hours)})"
        return shifted if self.unit == SLOTS_PER_HOUR else f"{shifted} / {self.unit // SLOTS_PER_HOUR}"

    def day_sql(self) -> str | None:
        """The key as SQL over a table of UTC days (`day` column), where whole UTC days have one key."""
        if self.fixed is not None:
            return str(self.fixed)
        if self.unit == SLOTS_PER_DAY and self.offset % SLOTS_PER_DAY == 0:
            return f"day + {self.offset // SLOTS_PER_DAY}"
        return None


def local_runs(tz: tzinfo, unit: int, start: int, end: int) -> list[LocalRun]:
    """Runs covering slots [start, end) whose keys are local days (unit SLOTS_PER_DAY) or hours (SLOTS_PER_HOUR).

    Read from a day before `start`, so a clock turned back just before it keeps the key already reached.
    """
    runs: list[LocalRun] = []
    reached: int | None = None
    for a, b, offset in offset_runs(tz, start - SLOTS_PER_DAY, end):
        first = a if reached is None else min(b, max(a, reached * unit - offset))
        if a < first:
            runs.append(LocalRun(a, first, unit, fixed=reached))
        if first < b:
            runs.append(LocalRun(first, b, unit, offset))
        last = (b - 1 + offset) // unit
        reached = last if reached is None else max(reached, last)
    clipped = [LocalRun(max(r.start, start), min(r.end, end), unit, r.offset, r.fixed) for r in runs]
    return [r for r in clipped if r.start < r.end]


def local_key(tz: tzinfo, unit: int, slot: int) -> int:
    """The local day or hour key of one slot."""
    return local_runs(tz, unit, slot, slot + 1)[0].key(slot)


def local_label(unit: int, key: int) -> str:
    """A key as the local day ("2026-11-14") or the start of the local clock hour ("2026-11-14 09:00")."""
    if unit == SLOTS_PER_DAY:
        return (date(1970, 1, 1) + timedelta(days=key)).isoformat()
    return (_EPOCH + timedelta(hours=key)).strftime("%Y-%m-%d %H:%M")
