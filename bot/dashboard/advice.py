"""The dashboard's place for advice (SPEC section 12: what would lower the bill).

Each item is a short title and a sentence, shown as text. The advice work (`!usage whatif`,
`!usage savings`, runway warnings) fills this in with its own figures for the room and period;
until then the page says it has nothing to suggest.
"""

from __future__ import annotations

from tracking.periods import Period
from tracking.store import Store


async def advice_items(store: Store, period: Period, rooms: tuple[str, ...]) -> list[dict[str, str]]:
    """[{"title": ..., "text": ...}] for the room (`rooms[0]`, with the rooms it replaced) in `period`."""
    return []
