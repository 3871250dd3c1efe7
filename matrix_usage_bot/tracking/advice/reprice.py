"""Re-pricing a room's calls on a model, exactly as the writer would have priced each call at its own time.

A group of raw calls (`CallGroup`: one price cell, agent, price tier, no finer counts) costs `Linear.pico`
of its sums when the model's prices are whole pico-dollars over its cell and tier (`Pricer.linear_ms`):
each call's cost is then an integer, and their sum is the sum's cost, to the pico-dollar. Elsewhere
(prices changing inside the cell, fractions of a pico-dollar per token, reasoning priced apart) the group's
calls are read again and priced one by one, as are calls with finer counts. Slot sums of the rollup (raw
events gone) are priced as the sums they are, at their slot's start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..fields import COLUMN, COUNTERS, FINER, Counts
from ..pricing import Linear, Pricer
from ..store import Filters, Store
from ..store.advice import CALL, GROUP, SLOT_SUMS, CallGroup, tier_of
from .calls import RoomCalls

Transform = Callable[[Counts], Counts]
"""A change to a call's (or a sum's) counts before they are priced."""

_IN = COUNTERS.index("input_tokens")
_FINER = tuple(COUNTERS.index(n) for n in FINER)
_ROW_COUNTS = tuple(COLUMN[n] for n in COUNTERS)
_TS, _PROVIDER, _MODEL, _AGENT = COLUMN["ts_ms"], COLUMN["provider"], COLUMN["model"], COLUMN["agent"]


def same(counts: Counts) -> Counts:
    return counts


def without_cache(counts: Counts) -> Counts:
    """Cache reads and writes billed as the plain input they are part of."""
    return counts._replace(cache_read_tokens=0, cache_write_tokens=0, cache_write_1h_tokens=0)


@dataclass
class Priced:
    """The re-priced cost of some calls (`cost_pusd` sums the priced ones) and how many it could not price."""

    calls: int = 0
    cost_pusd: int = 0
    unpriced_calls: int = 0

    def add(self, other: Priced) -> None:
        self.calls += other.calls
        self.cost_pusd += other.cost_pusd
        self.unpriced_calls += other.unpriced_calls


class Repricer:
    """Prices `CallGroup`s of some rooms on a model; counts `calls_priced_one_by_one` (for tests and benches)."""

    def __init__(self, store: Store, pricer: Pricer, calls: RoomCalls) -> None:
        self.store = store
        self.pricer = pricer
        self.rooms = calls.rooms
        self.grain = calls.grain
        self.calls_priced_one_by_one = 0
        self._cell_rows: dict[tuple[int, int, str], list[tuple]] = {}
        self._known: dict[tuple[str, str], bool] = {}
        self._prices: dict[tuple[str, str, int], Linear] = {}

    async def price(self, group: CallGroup, provider: str, model: str, transform: Transform = same) -> Priced:
        known = self._known.get((provider, model))
        if known is None:
            known = self._known[(provider, model)] = self.pricer.knows(provider, model)
        if not known:
            return Priced(group.calls, 0, group.calls)
        counts = transform(Counts._make(group.counts))
        if group.kind == CALL:
            return self._one(provider, model, group.ts_ms, counts)
        linear = self._linear(provider, model, group)
        if linear is not None and not (linear.reasoning_apart and counts.reasoning_tokens) and (
            group.kind == GROUP or not any(counts[i] for i in _FINER)
        ):
            cost = linear.pico(group.calls, counts.input_tokens, counts.output_tokens, counts.cache_read_tokens,
                               counts.cache_write_tokens)  # fmt: skip
            return Priced(group.calls, cost, 0)
        if group.kind == SLOT_SUMS:  # only the sums are left: priced as one call
            one = self._one(provider, model, group.ts_ms, counts)
            return Priced(group.calls, one.cost_pusd, group.calls if one.unpriced_calls else 0)
        total = Priced()
        for row in await self._rows_of(group):
            total.add(self._one(provider, model, row[_TS], transform(Counts._make(row[i] for i in _ROW_COUNTS))))
        return total

    def _linear(self, provider: str, model: str, group: CallGroup) -> Linear | None:
        """The whole pico-dollar prices over the group's span and tier (the last ones found are kept for the
        next groups of the model and tier), or None. Slot sums need their average input's tier only."""
        key = (provider, model, group.tier)
        start, end = group.ts_ms, group.end_ms
        low, high = self.grain.tier_bounds(group.tier)
        if group.kind != GROUP:
            high = low
        linear = self._prices.get(key)
        if linear is not None and linear.holds(start, end, low, high):
            return linear
        linear = self.pricer.linear_ms(provider, model, start, low)
        if linear is None or not linear.holds(start, end, low, high):
            return None
        self._prices[key] = linear
        return linear

    def _one(self, provider: str, model: str, ts_ms: int, counts: Counts) -> Priced:
        self.calls_priced_one_by_one += 1
        try:
            cost = self.pricer.price_pico_ms(provider, model, ts_ms, counts)
        except Exception:  # as the writer: a call genai-prices cannot price is unpriced, never $0
            cost = None
        return Priced(1, 0, 1) if cost is None else Priced(1, cost, 0)

    async def _rows_of(self, group: CallGroup) -> list[tuple]:
        """The raw calls of a group, read again (its cell's calls of its agent, kept for other groups)."""
        key = (group.ts_ms, group.end_ms, group.agent)
        if key not in self._cell_rows:
            filters = Filters(room_id=self.rooms, agent=group.agent)
            self._cell_rows[key] = [row async for row in self.store.iter_events(group.ts_ms, group.end_ms, filters)]
        starts = self.grain.tier_starts
        return [row for row in self._cell_rows[key]
                if (not group.model or (row[_PROVIDER], row[_MODEL]) == (group.provider, group.model))
                and _grouped(row) and tier_of(starts, row[_ROW_COUNTS[_IN]]) == group.tier]  # fmt: skip


def _grouped(row: tuple) -> bool:
    """Whether the store sums this raw call in a group (`store.advice.call_groups`), not one by one."""
    cached = row[COLUMN["cache_read_tokens"]] + row[COLUMN["cache_write_tokens"]]
    return not any(row[COLUMN[name]] for name in FINER) and cached <= row[COLUMN["input_tokens"]]
