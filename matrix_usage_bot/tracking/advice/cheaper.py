"""The largest saving a cheaper model would have brought: for each agent and model of a room's period, its
calls priced on each of the model's alternatives (`models.Alternatives`), as `whatif` prices them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..periods import Period
from ..pricing import Pricer
from ..store import Store
from .calls import RoomCalls, room_calls
from .models import Alternatives, resolve_model
from .reprice import Priced, Repricer


@dataclass(frozen=True)
class Suggestion:
    """Agent `agent`'s calls on `model` in `period`: `calls` of them cost `cost_pusd`; on `alternative`
    they would have cost `alternative_pusd`."""

    period: Period
    agent: str
    model: str
    alternative: str
    calls: int
    cost_pusd: int
    alternative_pusd: int

    @property
    def saving_pusd(self) -> int:
        return self.cost_pusd - self.alternative_pusd


async def cheaper_model(store: Store, pricer: Pricer, alternatives: Alternatives, period: Period,
                        rooms: Sequence[str], calls: RoomCalls | None = None) -> Suggestion | None:  # fmt: skip
    """The (agent, model, alternative) with the largest saving, among those whose calls were all priced and
    that the alternative prices all of; None when no alternative would have saved anything."""
    calls = calls or await room_calls(store, period, rooms)
    repricer = Repricer(store, pricer, calls)
    then: dict[tuple[str, str], Priced] = {}
    on: dict[tuple[str, str, str], Priced] = {}
    for group in calls.groups:
        options = alternatives.of(group.provider, group.model)
        if not options:
            continue
        key = (group.agent, group.model)
        then.setdefault(key, Priced()).add(Priced(group.calls, group.cost_pusd, group.unpriced_calls))
        for option in options:
            target = resolve_model(option, pricer)
            on.setdefault((*key, target.name), Priced()).add(await repricer.price(group, target.provider,
                                                                                   target.model))  # fmt: skip
    best: Suggestion | None = None
    for (agent, model, option), priced in sorted(on.items()):
        before = then[(agent, model)]
        if before.unpriced_calls or priced.unpriced_calls:
            continue
        found = Suggestion(period, agent, model, option, before.calls, before.cost_pusd, priced.cost_pusd)
        if found.saving_pusd > 0 and (best is None or found.saving_pusd > best.saving_pusd):
            best = found
    return best
