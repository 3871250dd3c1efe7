"""Usage totals and breakdowns for a period, answered from the hourly rollups.

Rollups cover whole UTC hours. A period (and, for a breakdown by day, each local midnight inside
it) falls on an hour boundary in most timezones; where it does not (UTC+5:30, say), the partial
hours at those cut points are summed from the raw events, so totals stay exact while raw events
are retained.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from .periods import Period
from .store import MS_PER_HOUR, Filters, Store, Sums

GROUPS = ("agent", "model", "provider", "operation", "user", "room", "thread", "day", "hour")


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
    in_time = group in ("day", "hour")  # keyed by local time: rollups by UTC hour, relabelled
    label = _local_hour if group == "hour" else _local_day
    store_group = "hour" if in_time else group
    segments = _segments(period.start_ms, period.end_ms, cuts)
    if group == "operation" and set(filters) - {"room_id"}:  # operations are rolled up per room only
        segments = [("raw", period.start_ms, period.end_ms)]
    for kind, start, end in segments:
        if kind == "rollup":
            parts = await store.sum_rollups(start, end, filters, store_group)
        else:
            parts = await store.sum_events(start, end, filters, None if in_time else group)
            if in_time:
                for part in parts:
                    part.key = label(start, period)
        for part in parts:
            key = label(part.key * MS_PER_HOUR, period) if kind == "rollup" and in_time else part.key
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


def _local_hour(ms: int, period: Period) -> str:
    """The local start of the UTC hour holding `ms`, e.g. "2026-11-14 09:00" ("09:30" at UTC+5:30)."""
    hour_start = ms - ms % MS_PER_HOUR
    return datetime.fromtimestamp(hour_start / 1000, UTC).astimezone(period.tz).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Projection:
    """Where the period's cost goes at its pace so far: `cost_pusd` by `last_day` (its last local day)."""

    cost_pusd: int
    last_day: date


def month_projection(report: Report, now: datetime) -> Projection | None:
    """The cost by the end of the report's period at the pace since its start (cost * length / elapsed),
    None unless `now` lies inside the period, at least an hour in, with some cost."""
    start, end, now_ms = report.period.start_ms, report.period.end_ms, int(now.timestamp() * 1000)
    elapsed = now_ms - start
    if not (elapsed >= MS_PER_HOUR and now_ms < end and report.totals.cost_pusd > 0):
        return None
    last_day = report.period.end.astimezone(report.period.tz).date() - timedelta(days=1)
    return Projection(report.totals.cost_pusd * (end - start) // elapsed, last_day)


@dataclass(frozen=True)
class Latency:
    """Latency of a model's calls in a period, from the rollups' histograms (`tracking.latency`: within 4.4 %)."""

    calls: int
    median_ms: float
    p95_ms: float


async def latency_by_model(store: Store, period: Period, *, room_id: str | None = None) -> dict[str, Latency]:
    """Median and p95 latency per model over the UTC hours the period touches (whole hours: the
    histograms are hourly), from `rollup_latency_hourly`, so they outlive raw events."""
    from .latency import percentile

    start_hour = period.start_ms // MS_PER_HOUR
    end_hour = -(-period.end_ms // MS_PER_HOUR)
    histograms = await store.latency_histograms(start_hour, end_hour, Filters(room_id=room_id))
    out: dict[str, Latency] = {}
    for model, counts in histograms.items():
        median, p95 = percentile(counts, 0.5), percentile(counts, 0.95)
        if median is not None and p95 is not None:
            out[model] = Latency(sum(counts.values()), median, p95)
    return out


def _ordered(group: str, by_key: dict[object, Sums]) -> list[Sums]:
    rows = list(by_key.values())
    for row in rows:
        if row.key == "":
            row.key = None
    if group in ("day", "hour"):
        return sorted(rows, key=lambda r: str(r.key))
    return sorted(rows, key=lambda r: (-r.cost_pusd, -r.total_tokens, str(r.key)))
