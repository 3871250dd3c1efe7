"""A room's calls in a period, read for re-pricing: summed where one price covers them, one by one elsewhere.

How finely to sum them (`Grain`) follows the prices of the models they will be priced on: their tier starts
(input sizes where a price changes) and when their prices can change (never, at UTC midnights, at times of
day). Raw events are complete from the slot of the store's oldest raw event on: retention deletes every
room's events before a cutoff on a whole UTC hour (`tracking.maintenance`), so no slot after the cutoff lost
any. The whole slots of the period before that slot are read from the finest rollup (`SLOT_SUMS`, priced at
their slot's time: their calls' own times and tiers are gone).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from ..periods import Period
from ..price_model import lookup, tier_starts, utc_ms_of_day
from ..pricing import PROVIDER_ALIASES, Pricer
from ..slots import MS_PER_SLOT
from ..store import Filters, Store
from ..store.advice import SLOT_SUMS, CallGroup
from ..validation import MAX_TS, MIN_TS

_STORED_MS = (int(MIN_TS * 1000), int(MAX_TS * 1000))


@dataclass(frozen=True)
class Grain:
    """How finely calls are summed: by the tiers of `tier_starts`, and by price cells (`day_edges`: None, one
    cell; (), UTC days; else the parts of a UTC day between those milliseconds of it)."""

    tier_starts: tuple[int, ...] = ()
    day_edges: tuple[int, ...] | None = None

    def tier_bounds(self, tier: int) -> tuple[int, int | None]:
        """The [low, high] input tokens of a tier (`CallGroup.tier`); high None: no bound."""
        starts = self.tier_starts
        return (0 if tier == 0 else starts[tier - 1] + 1), (starts[tier] if tier < len(starts) else None)


def _grain_of(model_infos: Sequence[object]) -> Grain:
    from genai_prices.types import StartDateConstraint, TimeOfDateConstraint

    starts: set[int] = set()
    edges: set[int] | None = None
    for info in model_infos:
        prices = getattr(info, "prices", None)
        for conditional in prices if isinstance(prices, list) else [None]:
            starts.update(tier_starts(conditional.prices if conditional is not None else prices))
            constraint = getattr(conditional, "constraint", None)
            if constraint is None:
                continue
            edges = edges or set()
            if isinstance(constraint, TimeOfDateConstraint):
                edges.update(utc_ms_of_day(t) for t in (constraint.start_time, constraint.end_time))
            elif not isinstance(constraint, StartDateConstraint):  # unknown: days, and each call checked alone
                continue
    return Grain(tuple(sorted(starts)), None if edges is None else tuple(sorted(edges)))


@functools.cache
def any_model_grain() -> Grain:
    """Fine enough for every model genai-prices knows: every tier start and time-of-day edge (a handful)."""
    from genai_prices import data_snapshot

    return _grain_of([model for provider in data_snapshot.get_snapshot().providers for model in provider.models])


def model_grain(pricer: Pricer, provider: str, model: str) -> Grain:
    """Fine enough for one model: an override's prices never change; genai-prices' as its data says."""
    found = None if not pricer.knows(provider, model) else lookup(PROVIDER_ALIASES.get(provider.lower(),
                                                                                       provider.lower()), model)
    return Grain() if found is None else _grain_of([found[1]])


@dataclass(frozen=True)
class RoomCalls:
    """The calls of rooms in a period, summed at `grain`: every call in exactly one group."""

    period: Period
    rooms: tuple[str, ...]
    grain: Grain
    groups: list[CallGroup]

    @property
    def summed_calls(self) -> int:
        """Calls known only from the rollup's slot sums (their raw events are gone)."""
        return sum(g.calls for g in self.groups if g.kind == SLOT_SUMS)


async def room_calls(store: Store, period: Period, rooms: Sequence[str], grain: Grain | None = None,
                     by_model: bool = True) -> RoomCalls:  # fmt: skip
    """Three reads whatever the period's length: slot sums before the raw events, raw groups, raw finer calls.
    `by_model` sums each provider and model apart (else they are "" in the groups)."""
    grain = grain or any_model_grain()
    start_ms, end_ms = max(period.start_ms, _STORED_MS[0]), min(period.end_ms, _STORED_MS[1])
    filters = Filters(room_id=tuple(rooms))
    groups: list[CallGroup] = []
    if start_ms >= end_ms:
        return RoomCalls(period, tuple(rooms), grain, groups)
    oldest = await store.oldest_event_ms()
    raw_from = end_ms if oldest is None else max(start_ms, min(end_ms, oldest - oldest % MS_PER_SLOT))
    first_slot, raw_slot = -(-start_ms // MS_PER_SLOT), raw_from // MS_PER_SLOT
    if first_slot < raw_slot:
        groups += await store.slot_sums(first_slot, raw_slot, filters, grain.tier_starts)
    if raw_from < end_ms:
        groups += await store.call_groups(raw_from, end_ms, filters, grain.tier_starts, grain.day_edges, by_model)
        groups += await store.finer_calls(raw_from, end_ms, filters, grain.tier_starts)
    return RoomCalls(period, tuple(rooms), grain, groups)
