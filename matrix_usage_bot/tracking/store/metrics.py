"""All-time sums and latency buckets for `/metrics`, and the latency histograms of `!usage models`.

Sums come from the fine rollup (kept forever), so counters survive restarts and retention. The
`/metrics` duration histogram reads the raw events: it covers the events retention still keeps.
"""

from __future__ import annotations

from collections.abc import Sequence

from .base import GROUP_COLUMNS, Filters, Sums
from .planning import _SUM_READ, where_clause
from .statements import Statements

METRIC_GROUPS = ("provider", "model", "room", "agent")
"""The columns `/metrics` may label by (README: HTTP API)."""


def _columns(groups: Sequence[str]) -> list[str]:
    unknown = [g for g in groups if g not in METRIC_GROUPS]
    if unknown or not groups:
        raise ValueError(f"metrics group by {', '.join(METRIC_GROUPS)}, not {unknown or 'nothing'}")
    return [GROUP_COLUMNS[g] for g in groups]


class MetricsMixin(Statements):
    """Mixed into a store: the SQL is the dialect SQLite and PostgreSQL share."""

    async def sum_all_time(self, groups: Sequence[str]) -> list[tuple[tuple[str, ...], Sums]]:
        """All-time totals by these columns (of `METRIC_GROUPS`), from the fine rollup."""
        cols = ", ".join(_columns(groups))
        sql = f"SELECT NULL, {_SUM_READ}, {cols} FROM rollup_slots GROUP BY {cols}"
        width = len(groups)
        rows = await self._fetchall(sql)
        return [(tuple(str(v) for v in r[-width:]), Sums.from_row(tuple(r[:-width]))) for r in rows]

    async def latency_buckets(
        self, groups: Sequence[str], bounds_ms: Sequence[float]
    ) -> list[tuple[tuple[str, ...], list[int], float, int]]:
        """Per group: cumulative counts of calls with latency_ms <= each bound, the sum of latencies (ms)
        and the count, over the raw events that carry a latency."""
        cols = ", ".join(_columns(groups))
        buckets = ", ".join(f"sum(CASE WHEN latency_ms <= {float(b)!r} THEN 1 ELSE 0 END)" for b in bounds_ms)
        sql = (f"SELECT {cols}, {buckets}, sum(latency_ms), count(*) FROM events"
               f" WHERE latency_ms IS NOT NULL GROUP BY {cols}")  # fmt: skip
        width, n = len(groups), len(bounds_ms)
        rows = await self._fetchall(sql)
        return [
            (tuple(str(v) for v in r[:width]), [int(c or 0) for c in r[width : width + n]], float(r[-2] or 0),
             int(r[-1]))
            for r in rows
        ]

    async def latency_histograms(self, start_day: int, end_day: int, filters: Filters) -> dict[str, dict[int, int]]:
        """{model: {latency bucket: calls}} over whole UTC days [start_day, end_day); filtered by room only."""
        where, params = where_clause("day", start_day, end_day, Filters(room_id=filters.get("room_id")))
        sql = f"SELECT model, bucket, sum(calls) FROM rollup_latency_daily WHERE {where} GROUP BY model, bucket"
        out: dict[str, dict[int, int]] = {}
        for model, bucket, calls in await self._fetchall(sql, params):
            out.setdefault(model, {})[int(bucket)] = int(calls)  # PostgreSQL sums BIGINT as NUMERIC
        return out

    async def event_latencies(self, start_ms: int, end_ms: int, filters: Filters) -> list[tuple[str, float, int]]:
        """(model, latency_ms, calls) of the raw events with start_ms <= ts_ms < end_ms that have a latency;
        filtered by room only (what the histograms cannot answer: parts of a day)."""
        where, params = where_clause("ts_ms", start_ms, end_ms, Filters(room_id=filters.get("room_id")))
        sql = (f"SELECT model, latency_ms, count(*) FROM events WHERE {where} AND latency_ms IS NOT NULL"
               " GROUP BY model, latency_ms")  # fmt: skip
        return [(str(model), float(latency), int(calls)) for model, latency, calls in await self._fetchall(sql, params)]
