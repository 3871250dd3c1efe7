"""The figures behind a usage chart: tokens per day and per agent (or model), and cost per day.

Everything comes from `usage_report` (rollups per quarter hour, exact at local midnights), so a chart agrees
with `!usage days` to the token and keeps working after retention has deleted the raw events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from matrix_usage_bot.tracking.periods import Period
from matrix_usage_bot.tracking.pricing import pico_to_usd
from matrix_usage_bot.tracking.queries import usage_report
from matrix_usage_bot.tracking.store import Store, Sums

DIMENSIONS = ("agent", "model")
TOP_SERIES = 8
OTHER = "other"
NONE_LABEL = "(none)"
FULL_RANGE_MAX_DAYS = 92  # longer periods (`all`, long ranges) are cut to the days that have usage


@dataclass
class ChartData:
    """What the chart draws: `series[name][i]` is that name's tokens on `days[i]` (largest first,
    "other" last); `cost_usd[i]` is the priced cost of `days[i]`."""

    title: str
    period: Period
    dimension: str
    days: list[date]
    series: dict[str, list[int]]
    cost_usd: list[Decimal]
    totals: Sums = field(default_factory=Sums)
    series_totals: dict[str, int] = field(default_factory=dict)
    other: str | None = None  # the series that gathers everything past the top ones
    day_totals: list[Sums] = field(default_factory=list)  # each day's sums (calls, unpriced calls, cost)

    @property
    def empty(self) -> bool:
        return not self.totals.calls

    def day_tokens(self) -> list[int]:
        return [sum(values[i] for values in self.series.values()) for i in range(len(self.days))]


def _name(key: object) -> str:
    return NONE_LABEL if key in (None, "") else str(key)


def _one_day(period: Period, day: date) -> Period:
    return Period(day.isoformat(), day, day + timedelta(days=1), period.tz)


def chart_days(period: Period, days_with_usage: list[date]) -> list[date]:
    """Every day of a short period; for a long one, from its first to its last day with usage."""
    days = period.days()
    if len(days) <= FULL_RANGE_MAX_DAYS or not days_with_usage:
        return days
    first, last = min(days_with_usage), max(days_with_usage)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


async def chart_data(
    store: Store,
    period: Period,
    dimension: str = "agent",
    *,
    room_id: str | tuple[str, ...] | None = None,
    title: str = "Usage",
    top: int = TOP_SERIES,
) -> ChartData:
    """Query the series of a chart: one `usage_report` per day with usage, grouped by `dimension`."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown chart dimension {dimension!r}; use one of: {', '.join(DIMENSIONS)}")
    by_day = await usage_report(store, period, group="day", room_id=room_id)
    overall = await usage_report(store, period, group=dimension, room_id=room_id)
    daily = {date.fromisoformat(str(row.key)): row for row in by_day.rows if row.calls}
    days = chart_days(period, list(daily))
    index = {day: i for i, day in enumerate(days)}

    ranked = sorted(overall.rows, key=lambda r: (-r.total_tokens, _name(r.key)))
    names = [_name(r.key) for r in ranked]
    kept = names if len(names) <= top else names[:top]
    series: dict[str, list[int]] = {name: [0] * len(days) for name in kept}
    rest = None
    if len(names) > len(kept):
        rest = OTHER if OTHER not in series else f"{OTHER} ({len(names) - len(kept)} more)"
        series[rest] = [0] * len(days)

    for day in sorted(daily):
        parts = await usage_report(store, _one_day(period, day), group=dimension, room_id=room_id)
        for row in parts.rows:
            name = _name(row.key)
            target = name if name in kept else rest
            if target is not None and day in index:
                series[target][index[day]] += row.total_tokens

    cost = [pico_to_usd(daily[d].cost_pusd) if d in daily else Decimal(0) for d in days]
    totals = {name: sum(values) for name, values in series.items()}
    day_totals = [daily.get(d) or Sums(d.isoformat()) for d in days]
    return ChartData(title, period, dimension, days, series, cost, by_day.totals, totals, rest, day_totals)
