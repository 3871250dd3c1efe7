"""Usage totals and breakdowns for a period, answered from the rollups.

The sum rollups are kept per quarter-hour slot (and per UTC hour and day), and every local midnight and
local clock hour starts on a slot in every timezone (`tracking.slots`), so a calendar period is answered
from rollups alone, exactly, also after retention removed its raw events: one query whatever its length and
timezone. Only the parts of a slot at the edges of a period that does not start or end on one (`Nh`, a
span to the second) are summed from the raw events: at most two queries more. (Operations are rolled up
per hour: the parts of an hour at a period's edges come from the raw events while retention keeps them.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from .latency import bucket, percentile
from .periods import Period
from .slots import MS_PER_DAY, MS_PER_SLOT, SLOTS_PER_DAY, SLOTS_PER_HOUR, local_key, local_label, local_runs
from .store import MS_PER_HOUR, Filters, Store, Sums
from .validation import MAX_TS, MIN_TS

GROUPS = ("agent", "model", "provider", "operation", "user", "room", "thread", "source", "day", "hour")
_LOCAL_UNITS = {"day": SLOTS_PER_DAY, "hour": SLOTS_PER_HOUR}
_STORED_MS = (int(MIN_TS * 1000), int(MAX_TS * 1000))
"""Events are stored from 2000 to 2099: a period is read only where they can be."""


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
    unit = _LOCAL_UNITS.get(group or "")
    column = None if unit else group
    by_key: dict[object, Sums] = {}

    def add(key: object, sums: Sums) -> None:
        by_key.setdefault(key, Sums(key)).add(sums)

    start_ms, end_ms = _stored(period)
    grain = MS_PER_HOUR if group == "operation" else MS_PER_SLOT
    if group == "operation" and set(filters) - {"room_id"}:  # operations are rolled up per room only
        first, last, raw = 0, 0, [(start_ms, end_ms)] if start_ms < end_ms else []
    else:
        first, last, raw = _split(start_ms, end_ms, grain)
        first, last = first * (grain // MS_PER_SLOT), last * (grain // MS_PER_SLOT)
    if first < last:
        local = local_runs(period.tz, unit, first, last) if unit else ()
        for part in await store.sum_rollups(first, last, filters, group, local):
            add(local_label(unit, int(part.key)) if unit else part.key, part)
    for a, b in raw:
        for part in await store.sum_events(a, b, filters, column):
            add(local_label(unit, local_key(period.tz, unit, a // MS_PER_SLOT)) if unit else part.key, part)
    totals = Sums(None)
    for sums in by_key.values():
        totals.add(sums)
    rows = [] if group is None else _ordered(group, by_key)
    return Report(period, group, totals, rows)


def _stored(period: Period) -> tuple[int, int]:
    """The period's span where events can be (empty when none can)."""
    start, end = max(period.start_ms, _STORED_MS[0]), min(period.end_ms, _STORED_MS[1])
    return start, max(start, end)


def _split(start_ms: int, end_ms: int, grain_ms: int) -> tuple[int, int, list[tuple[int, int]]]:
    """The whole grains [first, last) inside [start_ms, end_ms), and the spans of it outside them (at most
    two, each inside one grain) in milliseconds."""
    first, last = -(-start_ms // grain_ms), end_ms // grain_ms
    if first > last:
        return first, first, [(start_ms, end_ms)] if start_ms < end_ms else []
    edges = ((start_ms, first * grain_ms), (last * grain_ms, end_ms))
    return first, last, [(a, b) for a, b in edges if a < b]


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
    """Median and p95 latency per model over the period's calls, to the second: whole UTC days from
    `rollup_latency_daily` (so they outlive raw events), the parts of a day at its edges from the raw
    events' latencies, bucketed the same way (where retention removed those, the whole days alone)."""
    start_ms, end_ms = _stored(period)
    first, last, raw = _split(start_ms, end_ms, MS_PER_DAY)
    filters = Filters(room_id=room_id)
    histograms = await store.latency_histograms(first, last, filters) if first < last else {}
    for a, b in raw:
        for model, latency_ms, calls in await store.event_latencies(a, b, filters):
            counts = histograms.setdefault(model, {})
            counts[bucket(latency_ms)] = counts.get(bucket(latency_ms), 0) + calls
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
