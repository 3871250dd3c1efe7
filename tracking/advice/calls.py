"""A room's calls in a period, read for re-pricing: summed where one price covers them, one by one elsewhere.

Raw events are complete from the slot of the store's oldest raw event on: retention deletes every room's
events before a cutoff on a whole UTC hour (`tracking.maintenance`), so no slot after the cutoff lost any.
The whole slots of the period before that slot are read from the finest rollup (`SLOT_SUMS`, priced at
their slot's time: their calls' own times and tiers are gone).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from ..events import MAX_TS, MIN_TS
from ..periods import Period
from ..price_model import tier_starts
from ..slots import MS_PER_SLOT
from ..store import Filters, Store
from ..store.advice import SLOT_SUMS, CallGroup

_STORED_MS = (int(MIN_TS * 1000), int(MAX_TS * 1000))


@functools.cache
def price_tier_starts() -> tuple[int, ...]:
    """Every input-token count above which some genai-prices price changes tier (a handful in all)."""
    from genai_prices import data_snapshot

    starts: set[int] = set()
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            prices = model.prices if isinstance(model.prices, list) else None
            for price in [c.prices for c in prices] if prices is not None else [model.prices]:
                starts.update(tier_starts(price))
    return tuple(sorted(starts))


def tier_bounds(tier: int, starts: Sequence[int] | None = None) -> tuple[int, int | None]:
    """The [low, high] input tokens of a tier (`CallGroup.tier`); high None: no bound."""
    starts = price_tier_starts() if starts is None else starts
    return (0 if tier == 0 else starts[tier - 1] + 1), (starts[tier] if tier < len(starts) else None)


@dataclass(frozen=True)
class RoomCalls:
    """The calls of rooms in a period: every call in exactly one group."""

    period: Period
    rooms: tuple[str, ...]
    groups: list[CallGroup]

    @property
    def summed_calls(self) -> int:
        """Calls known only from the rollup's slot sums (their raw events are gone)."""
        return sum(g.calls for g in self.groups if g.kind == SLOT_SUMS)


async def room_calls(store: Store, period: Period, rooms: Sequence[str]) -> RoomCalls:
    """Three reads whatever the period's length: slot sums before the raw events, raw groups, raw finer calls."""
    start_ms, end_ms = max(period.start_ms, _STORED_MS[0]), min(period.end_ms, _STORED_MS[1])
    filters = Filters(room_id=tuple(rooms))
    starts = price_tier_starts()
    groups: list[CallGroup] = []
    if start_ms >= end_ms:
        return RoomCalls(period, tuple(rooms), groups)
    oldest = await store.oldest_event_ms()
    raw_from = end_ms if oldest is None else max(start_ms, min(end_ms, oldest - oldest % MS_PER_SLOT))
    first_slot, raw_slot = -(-start_ms // MS_PER_SLOT), raw_from // MS_PER_SLOT
    if first_slot < raw_slot:
        groups += await store.slot_sums(first_slot, raw_slot, filters, starts)
    if raw_from < end_ms:
        groups += await store.call_groups(raw_from, end_ms, filters, starts)
        groups += await store.finer_calls(raw_from, end_ms, filters, starts)
    return RoomCalls(period, tuple(rooms), groups)
