"""What prompt caching saved a room: each call with cache reads or writes priced again with them billed as
the plain input they are part of, minus its price as made (same model, same instant, same prices), and the
cache hit rate (cache reads over input tokens), by agent and model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from ..periods import Period
from ..pricing import Pricer
from ..store import Store
from .calls import RoomCalls, room_calls
from .reprice import Priced, Repricer, same, without_cache


@dataclass
class CachingRow(Priced):
    """One agent on one model (both None: the room's total): its calls, what they cost (`cost_pusd`, as stored,
    and the `unpriced_calls` nothing priced), their input and cache tokens, and what caching saved."""

    agent: str | None = None
    model: str | None = None
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    saved_pusd: int = 0
    """Without caching they would have cost this much more (negative: caching cost more, writes dearer than
    input and never read)."""

    @property
    def hit_rate(self) -> Decimal | None:
        """Cache reads over input tokens; None without input."""
        return Decimal(self.cache_read_tokens) / self.input_tokens if self.input_tokens else None

    def add_tokens(self, other: CachingRow) -> None:
        """Add the other's calls, costs, tokens and saving."""
        self.add(other)
        for name in ("input_tokens", "cache_read_tokens", "cache_write_tokens", "saved_pusd"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Savings:
    period: Period
    totals: CachingRow
    rows: list[CachingRow] = field(default_factory=list)
    summed_calls: int = 0
    """Calls older than the raw events' retention: priced from their quarter hour's sums, at its start."""


async def savings(store: Store, pricer: Pricer, period: Period, rooms: Sequence[str],
                  calls: RoomCalls | None = None) -> Savings:  # fmt: skip
    calls = calls or await room_calls(store, period, rooms)
    repricer = Repricer(store, pricer, calls)
    rows: dict[tuple[str, str], CachingRow] = {}
    for group in calls.groups:
        row = rows.setdefault((group.agent, group.model), CachingRow(agent=group.agent, model=group.model))
        read, write = group.count("cache_read_tokens"), group.count("cache_write_tokens")
        row.add_tokens(CachingRow(group.calls, group.cost_pusd, group.unpriced_calls,
                                  input_tokens=group.count("input_tokens"), cache_read_tokens=read,
                                  cache_write_tokens=write))  # fmt: skip
        if not (read or write) or group.unpriced_calls == group.calls:
            continue
        made = await repricer.price(group, group.provider, group.model, same)
        plain = await repricer.price(group, group.provider, group.model, without_cache)
        if made.unpriced_calls or plain.unpriced_calls:
            row.unpriced_calls += group.calls - group.unpriced_calls  # priced then, not now: no saving known
        else:
            row.saved_pusd += plain.cost_pusd - made.cost_pusd
    totals = CachingRow()
    for row in rows.values():
        totals.add_tokens(row)
    ordered = sorted(rows.values(), key=lambda r: (-r.saved_pusd, -r.cost_pusd, r.agent or "", r.model or ""))
    return Savings(period, totals, ordered, calls.summed_calls)
