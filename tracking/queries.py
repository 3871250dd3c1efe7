"""Usage totals and breakdowns for a period, answered from the hourly rollups.

Rollups cover whole UTC hours. A period (and, for a breakdown by day, each local midnight inside
it) falls on an hour boundary in most timezones; where it does not (UTC+5:30, say), the partial
hours at those cut points are summed from the raw events, so totals stay exact while raw events
are retained.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .periods import Period
from .store import MS_PER_HOUR, Filters, Store, Sums

GROUPS = ("agent", "model", "provider", "user", "room", "thread", "day")


@dataclass
class Report:
    period: Period
    group: str | None
    totals: Sums
    rows: list[Sums] = field(default_factory=list)


async def usage_report(
    store: Store,
    period: Period,
    *,
    group: str | None = None,
    room_id: str | tuple[str, ...] | None = None,
    thread_id: str | None = None,
    agent: str | None = None,
    user_id: str | None = None,
) -> Report:
    if group is not None and group not in GROUPS:
        raise ValueError(f"unknown breakdown {group!r}; use one of: {', '.join(GROUPS)}")
    filters = Filters(room_id=room_id, thread_id=thread_id, agent=agent, user_id=user_id)
    cuts = period.midnights_ms() if group == "day" else []
    by_key: dict[object, Sums] = {}
    store_group = "hour" if group == "day" else group
    for kind, start, end in _segments(period.start_ms, period.end_ms, cuts):
        if kind == "rollup":
            parts = await store.sum_rollups(start, end, filters, store_group)
        else:
            parts = await store.sum_events(start, end, filters, None if group == "day" else group)
            if group == "day":
                for part in parts:
                    part.key = _local_day(start, period)
        for part in parts:
            key = _local_day(part.key * MS_PER_HOUR, period) if kind == "rollup" and group == "day" else part.key
            by_key.setdefault(key, Sums(key)).add(part)
    totals = Sums(None)
    for sums in by_key.values():
        totals.add(sums)
    rows = [] if group is None else _ordered(group, by_key)
    return Report(period, group, totals, rows)


def _segments(start_ms: int, end_ms: int, cuts: list[int]) -> list[tuple[str, int, int]]:
    """Split [start_ms, end_ms) into whole-hour rollup spans (in hours) and raw spans (in ms)."""
    points = sorted({start_ms, end_ms, *cuts})
    raw_hours = {p // MS_PER_HOUR for p in points if p % MS_PER_HOUR}
    segments: list[tuple[str, int, int]] = []
    first_hour = -(-start_ms // MS_PER_HOUR)
    last_hour = end_ms // MS_PER_HOUR
    if first_hour > last_hour:
        return [("raw", start_ms, end_ms)]
    hour = first_hour
    for raw_hour in sorted(h for h in raw_hours if first_hour <= h < last_hour):
        if hour < raw_hour:
            segments.append(("rollup", hour, raw_hour))
        hour = raw_hour + 1
    if hour < last_hour:
        segments.append(("rollup", hour, last_hour))
    for h in sorted(raw_hours):
        lo, hi = max(start_ms, h * MS_PER_HOUR), min(end_ms, (h + 1) * MS_PER_HOUR)
        edges = sorted({lo, hi, *(p for p in points if lo < p < hi)})
        segments.extend(("raw", a, b) for a, b in itertools.pairwise(edges) if a < b)
    return segments


def _local_day(ms: int, period: Period) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(period.tz).date().isoformat()


def _ordered(group: str, by_key: dict[object, Sums]) -> list[Sums]:
    rows = list(by_key.values())
    for row in rows:
        if row.key == "":
            row.key = None
    if group == "day":
        return sorted(rows, key=lambda r: str(r.key))
    return sorted(rows, key=lambda r: (-r.cost_pusd, -r.total_tokens, str(r.key)))
