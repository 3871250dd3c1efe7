"""The digest's cheaper-model suggestion: at most once a week per room, the agent and model whose last 7 days
would have cost least on an alternative (the largest saving, `tracking.advice.cheaper_model`).

A suggestion posted is claimed in the store under its day, so the next comes 7 days later at the earliest,
restarts included; a digest the homeserver refuses releases it with the digest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from matrix_usage_bot.tracking.advice import Alternatives, Suggestion, cheaper_model
from matrix_usage_bot.tracking.periods import Period
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.store import Store

SUGGESTION = "suggestion"
"""The claim kind of posted suggestions, keyed `room|day`."""
EVERY = timedelta(days=7)


@dataclass(frozen=True)
class WeeklySuggestions:
    store: Store
    pricer: Pricer
    alternatives: Alternatives
    tz: ZoneInfo

    async def due(self, room_id: str, rooms: Sequence[str], today: date) -> Suggestion | None:
        """The suggestion for the 7 days before `today`, unless one was posted here in the last 7 days."""
        for key in await self.store.claimed(SUGGESTION, room_id):
            if today - date.fromisoformat(key.rsplit("|", 1)[1]) < EVERY:
                return None
        week = Period("the last 7 days", today - EVERY, today, self.tz)
        return await cheaper_model(self.store, self.pricer, self.alternatives, week, rooms)

    async def claim(self, room_id: str, today: date) -> bool:
        return await self.store.claim(SUGGESTION, f"{room_id}|{today.isoformat()}", room_id)

    async def release(self, room_id: str, today: date) -> None:
        await self.store.release(SUGGESTION, f"{room_id}|{today.isoformat()}")
