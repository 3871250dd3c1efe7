"""What a room's calls would have cost on another model: each call's own counts (cache and reasoning parts,
finer counts) priced on the model at the call's own time, by agent, beside what they cost then."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..periods import Period
from ..pricing import Pricer
from ..store import Store
from .calls import RoomCalls, model_grain, room_calls
from .models import Target, resolve_model
from .reprice import Priced, Repricer


@dataclass
class WhatIfRow(Priced):
    """One agent's calls (`agent` None: all of them): what they cost then (`cost_pusd`, as stored, and the
    `unpriced_calls` nothing priced then), and on the model."""

    agent: str | None = None
    whatif_pusd: int = 0
    """What the calls the model can price would have cost on it."""
    whatif_unpriced_calls: int = 0
    """Calls the model cannot price: counted apart, never as $0."""

    def add_whatif(self, priced: Priced) -> None:
        self.whatif_pusd += priced.cost_pusd
        self.whatif_unpriced_calls += priced.unpriced_calls


@dataclass
class WhatIf:
    period: Period
    target: Target
    totals: WhatIfRow
    rows: list[WhatIfRow] = field(default_factory=list)
    summed_calls: int = 0
    """Calls older than the raw events' retention: priced from their quarter hour's sums, at its start."""
    calls_priced_one_by_one: int = 0
    """Calls that no group's sums could price (finer counts, prices changing inside a slot): work done."""


async def whatif(store: Store, pricer: Pricer, period: Period, rooms: Sequence[str], model: str | Target,
                 calls: RoomCalls | None = None) -> WhatIf:  # fmt: skip
    """This room's calls in `period` priced on `model` (`model` or `provider/model`), by agent."""
    target = model if isinstance(model, Target) else resolve_model(model, pricer)
    if calls is None:  # summed as finely as the model's prices need, whichever model the calls used
        grain = model_grain(pricer, target.provider, target.model)
        calls = await room_calls(store, period, rooms, grain, by_model=False)
    repricer = Repricer(store, pricer, calls)
    by_agent: dict[str, WhatIfRow] = {}
    for group in calls.groups:
        row = by_agent.get(group.agent)
        if row is None:
            row = by_agent[group.agent] = WhatIfRow(agent=group.agent)
        row.add(Priced(group.calls, group.cost_pusd, group.unpriced_calls))
        row.add_whatif(await repricer.price(group, target.provider, target.model))
    totals = WhatIfRow()
    for row in by_agent.values():
        totals.add(row)
        totals.add_whatif(Priced(row.calls, row.whatif_pusd, row.whatif_unpriced_calls))
    rows = sorted(by_agent.values(), key=lambda r: (-r.cost_pusd, -r.calls, r.agent or ""))
    return WhatIf(period, target, totals, rows, calls.summed_calls, repricer.calls_priced_one_by_one)
