"""Cost over time for the dashboard's chart: by local hour for a period of a day, else by local day,
split by agent or model (the top ones, the rest as "other").

Every figure comes from `usage_report` (one per bucket with usage), so the chart agrees with the
tables and with `!usage days` / `!usage hours` to the pico-dollar, and outlives raw events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from matrix_usage_bot.tracking.periods import MS_PER_HOUR, Period, hours_period, local_midnight
from matrix_usage_bot.tracking.queries import usage_report
from matrix_usage_bot.tracking.store import Store, Sums

from ..chart_data import NONE_LABEL, OTHER, chart_days

TOP_SERIES = 7
HOURLY_MAX_HOURS = 48


@dataclass(frozen=True)
class Bucket:
    """One bar: [start_ms, end_ms), `label` for the axis, `title` for people."""

    start_ms: int
    end_ms: int
    label: str
    title: str


@dataclass
class CostSeries:
    """`cost[name][i]` is the priced cost (pico-dollars) of `name` in `buckets[i]`; `sums[i]` the bucket's
    totals (calls, unpriced calls). `names` are ranked by cost, `other` gathers the rest."""

    unit: str
    dimension: str
    buckets: list[Bucket]
    names: list[str] = field(default_factory=list)
    cost: dict[str, list[int]] = field(default_factory=dict)
    sums: list[Sums] = field(default_factory=list)
    series_totals: dict[str, Sums] = field(default_factory=dict)
    other: str | None = None


def _name(key: object) -> str:
    return NONE_LABEL if key in (None, "") else str(key)


def hourly(period: Period) -> bool:
    """By hour when the period is at most a day (or up to 48 hours given in hours), else by day."""
    hours = (period.end_ms - period.start_ms) / MS_PER_HOUR
    return len(period.days()) <= 1 or (period.bounds_ms is not None and hours <= HOURLY_MAX_HOURS)


def _local(ms: int, period: Period) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(period.tz)


def hour_buckets(period: Period) -> list[Bucket]:
    """The local clock hours of the period (23 or 25 on a day when clocks change)."""
    out = []
    for start in range(period.start_ms, period.end_ms, MS_PER_HOUR):
        end = min(start + MS_PER_HOUR, period.end_ms)
        local = _local(start, period)
        out.append(Bucket(start, end, f"{local:%H:%M}", f"{local:%Y-%m-%d %H:%M}"))
    return out


def day_buckets(period: Period, days: list[date]) -> list[Bucket]:
    out = []
    for day in days:
        start = max(period.start_ms, int(local_midnight(day, period.tz).timestamp() * 1000))
        end = min(period.end_ms, int(local_midnight(day + timedelta(days=1), period.tz).timestamp() * 1000))
        out.append(Bucket(start, end, f"{day.day} {day:%b}", f"{day:%a} {day.isoformat()}"))
    return out


async def cost_series(
    store: Store, period: Period, dimension: str, room_id: tuple[str, ...], top: int = TOP_SERIES
) -> CostSeries:
    overall = await usage_report(store, period, group=dimension, room_id=room_id)
    if hourly(period):
        unit, buckets = "hour", hour_buckets(period)
        busy = [True] * len(buckets)
    else:
        by_day = await usage_report(store, period, group="day", room_id=room_id)
        used = {date.fromisoformat(str(r.key)) for r in by_day.rows if r.calls}
        days = chart_days(period, sorted(used))
        unit, buckets, busy = "day", day_buckets(period, days), [day in used for day in days]
    ranked = sorted(overall.rows, key=lambda r: (-r.cost_pusd, -r.total_tokens, _name(r.key)))
    names = [_name(r.key) for r in ranked if r.calls]
    kept = names[:top] if len(names) > top + 1 else names
    series = CostSeries(unit, dimension, buckets, list(kept))
    if len(kept) < len(names):
        series.other = OTHER if OTHER not in kept else f"{OTHER} ({len(names) - len(kept)} more)"
        series.names.append(series.other)
    series.cost = {name: [0] * len(buckets) for name in series.names}
    series.series_totals = {name: Sums(name) for name in series.names}
    for i, bucket in enumerate(buckets):
        sums = Sums(bucket.title)
        series.sums.append(sums)
        if not busy[i]:
            continue
        part = hours_period(bucket.title, bucket.start_ms, bucket.end_ms, period.tz)
        report = await usage_report(store, part, group=dimension, room_id=room_id)
        sums.add(report.totals)
        for row in report.rows:
            name = _name(row.key)
            target = name if name in kept else series.other
            if target is not None:
                series.cost[target][i] += row.cost_pusd
                series.series_totals[target].add(row)
    return series
