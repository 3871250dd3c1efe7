"""The dashboard's advice (README: Advice: what would lower the bill), for the room and the page's period.

The figures and words are the chat's: what prompt caching saved and the cache hit rate (the headline of
`!usage savings`), and the cheaper model with the largest saving (the digest's suggestion, with the
figures `!usage whatif` gives for that agent's calls on that model). Both read the room's calls once.
"""

from __future__ import annotations

from collections.abc import Sequence

from matrix_usage_bot.tracking.advice import Alternatives, cheaper_model, room_calls, savings
from matrix_usage_bot.tracking.periods import Period
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.store import Store

from ..render.advice import savings_headline
from ..render.digest import suggestion_sentence

NO_SUGGESTION = "No known cheaper model would have cost less for the priced calls of this period."


async def advice_items(store: Store, pricer: Pricer, alternatives: Alternatives, period: Period,
                       rooms: Sequence[str]) -> list[dict[str, str]]:  # fmt: skip
    """[{"title": ..., "text": ...}] for the room (`rooms[0]`, with the rooms it replaced) in `period`; none
    when the period has no calls."""
    calls = await room_calls(store, period, rooms)
    if not any(group.calls for group in calls.groups):
        return []
    cached = await savings(store, pricer, period, rooms, calls)
    cheaper = await cheaper_model(store, pricer, alternatives, period, rooms, calls)
    sentence = NO_SUGGESTION if cheaper is None else suggestion_sentence(cheaper)
    return [{"title": "Caching", "text": savings_headline(cached)},
            {"title": "Cheaper model", "text": sentence[:1].upper() + sentence[1:]}]  # fmt: skip
