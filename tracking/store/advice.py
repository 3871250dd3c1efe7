"""The reads behind advice (`tracking.advice`): a room's calls summed in groups that one price covers.

Re-pricing every call of a busy month with genai-prices would take minutes, so the raw events are summed
in SQL per quarter-hour slot, agent, provider, model and price tier (how many of the given tier starts
the call's input exceeds): a model's prices change only at known instants, nearly all on slot edges, and
within a tier they are linear, so a group's sums cost what its calls cost one by one. Calls with finer
counts (audio, images, web searches, 1-hour cache writes) are read one by one. Slots whose raw events
retention deleted are read from the finest rollup. The SQL is the dialect SQLite and PostgreSQL share.
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

_COUNTS = ", ".join(f"sum({name})" for name in COUNTERS)
_COST = f"sum(coalesce(cost_pusd, 0) / {SPLIT}), sum(coalesce(cost_pusd, 0) % {SPLIT})"
_NO_FINER = " AND ".join(f"{name} = 0" for name in FINER)


@dataclass(frozen=True, slots=True)
class CallGroup:
    """Calls of one agent on one provider and model, with their counts (`fields.COUNTERS` order) summed."""

    kind: str
    ts_ms: int
    """A call's own time; for a group or slot sums, the start of their slot."""
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


def _group(kind: str, row: tuple, tier: int | None = None) -> CallGroup:
    """A row of (time, agent, provider, model, [tier,] calls, counts..., cost high, cost low, unpriced)."""
    values = [int(v or 0) for v in row[4 if tier is not None else 5 :]]
    width = len(COUNTERS)
    calls, counts = values[0], tuple(values[1 : 1 + width])
    high, low, unpriced = values[1 + width :]
    return CallGroup(kind, int(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4]) if tier is None else tier,
                     calls, counts, high * SPLIT + low, unpriced)  # fmt: skip


class AdviceReadsMixin(Statements):
    """Mixed into a store."""

    async def call_groups(self, start_ms: int, end_ms: int, filters: Filters,
                          tier_starts: Sequence[int]) -> list[CallGroup]:  # fmt: skip
        """Raw events in [start_ms, end_ms) without finer counts, summed by slot, agent, provider, model, tier."""
        where, params = where_clause("ts_ms", start_ms, end_ms, filters)
        sql = (f"SELECT ts_ms / {MS_PER_SLOT} * {MS_PER_SLOT}, agent, provider, model, {tier_sql(tier_starts)},"
               f" count(*), {_COUNTS}, {_COST}, sum(CASE WHEN cost_pusd IS NULL THEN 1 ELSE 0 END)"
               f" FROM events WHERE {where} AND {_NO_FINER} GROUP BY 1, 2, 3, 4, 5")  # fmt: skip
        return [_group(GROUP, row) for row in await self._fetchall(sql, params)]

    async def finer_calls(self, start_ms: int, end_ms: int, filters: Filters,
                          tier_starts: Sequence[int]) -> list[CallGroup]:  # fmt: skip
        """Raw events in [start_ms, end_ms) with a finer count, one by one."""
        where, params = where_clause("ts_ms", start_ms, end_ms, filters)
        finer = " OR ".join(f"{name} <> 0" for name in FINER)
        sql = (f"SELECT ts_ms, agent, provider, model, 1, {', '.join(COUNTERS)}, coalesce(cost_pusd, 0) / {SPLIT},"
               f" coalesce(cost_pusd, 0) % {SPLIT}, CASE WHEN cost_pusd IS NULL THEN 1 ELSE 0 END"
               f" FROM events WHERE {where} AND ({finer})")  # fmt: skip
        return [_group(CALL, row, tier_of(tier_starts, int(row[5]))) for row in await self._fetchall(sql, params)]

    async def slot_sums(self, start_slot: int, end_slot: int, filters: Filters,
                        tier_starts: Sequence[int]) -> list[CallGroup]:  # fmt: skip
        """The finest rollup's sums in slots [start_slot, end_slot) by slot, agent, provider and model: what is
        left of calls whose raw events retention deleted."""
        where, params = where_clause("slot", start_slot, end_slot, filters)
        sql = (f"SELECT slot * {MS_PER_SLOT}, agent, provider, model, sum(calls), {_COUNTS},"
               f" sum(cost_pusd / {SPLIT}), sum(cost_pusd % {SPLIT}), sum(unpriced_calls)"
               f" FROM rollup_slots WHERE {where} GROUP BY 1, 2, 3, 4")  # fmt: skip
        groups = []
        for row in await self._fetchall(sql, params):
            calls, inp = int(row[4] or 0), int(row[5] or 0)
            groups.append(_group(SLOT_SUMS, row, tier_of(tier_starts, inp // max(calls, 1))))
        return groups
