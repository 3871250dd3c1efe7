"""The reads behind advice (`tracking.advice`): a room's calls summed in groups that one price covers.

Re-pricing every call of a busy month with genai-prices would take minutes, so the raw events are summed
in SQL per price cell, agent (provider and model, when asked) and price tier. A cell is a span in which the
prices of the models to price on cannot change: all time (prices with no conditions), a UTC day (prices
starting on a date change at a UTC midnight), or a part of one between the day's edges (time-of-day prices
such as DeepSeek's off-peak hours). A tier counts the tier starts the call's input exceeds. Within a cell
and a tier prices are linear, so a group's sums cost what its calls cost one by one. Calls with finer counts
(audio, images, web searches, 1-hour cache writes), and calls whose cache reads and writes exceed their
input (which genai-prices refuses to price), are read one by one; slots whose raw events retention
deleted, from the finest rollup. The SQL is the dialect SQLite and PostgreSQL share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..fields import COUNTERS, FINER
from ..slots import MS_PER_SLOT
from .base import SPLIT, Filters
from .planning import where_clause
from .statements import Statements

GROUP, CALL, SLOT_SUMS = "group", "call", "slot sums"
"""What a `CallGroup` holds: raw calls without finer counts, one raw call, or a slot's sums from the rollup."""
DAY_MS = 86_400_000

_FIVE = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
_COST = f"sum(coalesce(cost_pusd, 0) / {SPLIT}), sum(coalesce(cost_pusd, 0) % {SPLIT})"
_UNPRICED = "sum(CASE WHEN cost_pusd IS NULL THEN 1 ELSE 0 END)"
_NO_FINER = " AND ".join([*(f"{name} = 0" for name in FINER), "cache_read_tokens + cache_write_tokens <= input_tokens"])
"""Calls that per-token prices cost exactly: no finer counts, and cache within input (genai-prices refuses more)."""
_FIVE_AT = tuple(COUNTERS.index(name) for name in _FIVE)


@dataclass(slots=True)
class CallGroup:
    """Calls of one agent (on one provider and model, or "" for any), their counts (`COUNTERS` order) summed."""

    kind: str
    ts_ms: int
    """A call's own time; for a group, the start of its price cell (within the read span)."""
    end_ms: int
    """The end of the span the calls lie in: their price cell's, their slot's, or the call's time + 1."""
    agent: str
    provider: str
    model: str
    tier: int
    """How many tier starts the calls' input exceeds (for slot sums: their average input's)."""
    calls: int
    counts: tuple[int, ...]
    cost_pusd: int
    """The stored cost of the priced calls."""
    unpriced_calls: int

    def count(self, name: str) -> int:
        return self.counts[COUNTERS.index(name)]


def tier_sql(tier_starts: Sequence[int]) -> str:
    """How many of the tier starts the input exceeds (genai-prices applies a tier above its start)."""
    return " + ".join(f"CASE WHEN input_tokens > {int(start)} THEN 1 ELSE 0 END" for start in tier_starts) or "0"


def tier_of(tier_starts: Sequence[int], input_tokens: int) -> int:
    return sum(input_tokens > start for start in tier_starts)


def cell_sql(day_edges: Sequence[int] | None) -> str:
    """The start of a call's price cell: 0 (one cell), its UTC day, or the part of that day between edges."""
    if day_edges is None:
        return "0"
    day = f"ts_ms / {DAY_MS} * {DAY_MS}"
    edges = sorted({int(e) for e in day_edges if 0 < e < DAY_MS})
    if not edges:
        return day
    parts = " ".join(f"WHEN ts_ms % {DAY_MS} < {edge} THEN {start}" for start, edge in zip([0, *edges], edges,
                                                                                        strict=False))
    return f"{day} + CASE {parts} ELSE {edges[-1]} END"


def cell_end(start: int, day_edges: Sequence[int] | None, end_ms: int) -> int:
    if day_edges is None:
        return end_ms
    day = start - start % DAY_MS
    return min(end_ms, day + min((e for e in day_edges if day + e > start), default=DAY_MS))


def _ints(values: Sequence) -> list[int]:
    return [int(v or 0) for v in values]


class AdviceReadsMixin(Statements):
    """Mixed into a store."""

    async def call_groups(self, start_ms: int, end_ms: int, filters: Filters, tier_starts: Sequence[int],
                          day_edges: Sequence[int] | None, by_model: bool) -> list[CallGroup]:  # fmt: skip
        """Raw events in [start_ms, end_ms) without finer counts, summed by price cell (`cell_sql`), agent,
        provider and model (with `by_model`) and tier."""
        where, params = where_clause("ts_ms", start_ms, end_ms, filters)
        model = "provider, model" if by_model else "'', ''"
        sql = (f"SELECT {cell_sql(day_edges)}, agent, {model}, {tier_sql(tier_starts)}, count(*),"
               f" {', '.join(f'sum({n})' for n in _FIVE)}, {_COST}, {_UNPRICED}"
               f" FROM events WHERE {where} AND {_NO_FINER} GROUP BY 1, 2, 3, 4, 5")  # fmt: skip
        groups = []
        zeros = [0] * len(COUNTERS)
        for row in await self._fetchall(sql, params):
            values = _ints(row[5:])
            counts = zeros.copy()
            for at, value in zip(_FIVE_AT, values[1:6], strict=True):
                counts[at] = value
            start = max(start_ms, int(row[0]))
            groups.append(CallGroup(GROUP, start, cell_end(start, day_edges, end_ms), str(row[1]), str(row[2]),
                                    str(row[3]), int(row[4]), values[0], tuple(counts), values[6] * SPLIT + values[7],
                                    values[8]))  # fmt: skip
        return groups

    async def finer_calls(self, start_ms: int, end_ms: int, filters: Filters,
                          tier_starts: Sequence[int]) -> list[CallGroup]:  # fmt: skip
        """Raw events in [start_ms, end_ms) that `call_groups` leaves out (a finer count, cache above input), one
        by one."""
        where, params = where_clause("ts_ms", start_ms, end_ms, filters)
        finer = f"NOT ({_NO_FINER})"
        sql = (f"SELECT ts_ms, agent, provider, model, {', '.join(COUNTERS)}, coalesce(cost_pusd, 0) / {SPLIT},"
               f" coalesce(cost_pusd, 0) % {SPLIT}, CASE WHEN cost_pusd IS NULL THEN 1 ELSE 0 END"
               f" FROM events WHERE {where} AND ({finer})")  # fmt: skip
        calls = []
        for row in await self._fetchall(sql, params):
            values, ts = _ints(row[4:]), int(row[0])
            counts = tuple(values[: len(COUNTERS)])
            high, low, unpriced = values[len(COUNTERS) :]
            tier = tier_of(tier_starts, counts[0])
            calls.append(CallGroup(CALL, ts, ts + 1, str(row[1]), str(row[2]), str(row[3]), tier, 1, counts,
                                   high * SPLIT + low, unpriced))  # fmt: skip
        return calls

    async def slot_sums(self, start_slot: int, end_slot: int, filters: Filters,
                        tier_starts: Sequence[int]) -> list[CallGroup]:  # fmt: skip
        """The finest rollup's sums in slots [start_slot, end_slot) by slot, agent, provider and model: what is
        left of calls whose raw events retention deleted."""
        where, params = where_clause("slot", start_slot, end_slot, filters)
        sql = (f"SELECT slot, agent, provider, model, sum(calls), {', '.join(f'sum({n})' for n in COUNTERS)},"
               f" sum(cost_pusd / {SPLIT}), sum(cost_pusd % {SPLIT}), sum(unpriced_calls)"
               f" FROM rollup_slots WHERE {where} GROUP BY 1, 2, 3, 4")  # fmt: skip
        groups = []
        for row in await self._fetchall(sql, params):
            values, start = _ints(row[4:]), int(row[0]) * MS_PER_SLOT
            calls, counts = values[0], tuple(values[1 : 1 + len(COUNTERS)])
            high, low, unpriced = values[1 + len(COUNTERS) :]
            groups.append(CallGroup(SLOT_SUMS, start, start + MS_PER_SLOT, str(row[1]), str(row[2]), str(row[3]),
                                    tier_of(tier_starts, counts[0] // max(calls, 1)), calls, counts,
                                    high * SPLIT + low, unpriced))  # fmt: skip
        return groups
