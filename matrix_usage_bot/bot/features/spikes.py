"""Spike warnings: a room whose last hour cost far more than usual tells its admins, once that hour, and why.

"Usual" is the same hour of the day over the last 7 days, averaged, so a room busy every morning is
not warned every morning. A spike must also reach a minimum cost, so a quiet room is not warned
over cents. The warning says which factor of the cost changed most (calls, tokens per call, price per
token, with the cache hit rate beside the price: `tracking.advice.spikes`) and names the agent, the model
and the thread whose cost rose most over their usual hour.
"""

from __future__ import annotations

from decimal import Decimal

from matrix_usage_bot.tracking.advice import behind, spike_cause
from matrix_usage_bot.tracking.periods import Period, hours_period
from matrix_usage_bot.tracking.pricing import PICO
from matrix_usage_bot.tracking.queries import Report, usage_report
from matrix_usage_bot.tracking.store import Sums

from ..render.answers import Answer
from ..render.spikes import spike_text
from .parts import BotParts

HOUR_MS = 3_600_000
DAYS_COMPARED = 7
BEHIND = ("agent", "model", "thread")
"""The dimensions a warning names the one behind the spike of."""


class SpikeCheck:
    def __init__(self, parts: BotParts, *, factor: Decimal, min_usd: Decimal) -> None:
        self.parts = parts
        self.factor = factor
        self.min_pusd = int(min_usd * PICO)

    @property
    def enabled(self) -> bool:
        return self.factor > 0

    async def spike(self, room_id: str) -> tuple[str, Answer] | None:
        """The hour's claim key and the warning, when the last hour is a spike; else None."""
        now = self.parts.quotas.clock()
        end_ms = int(now.timestamp() * 1000) + 1  # up to and including now
        rooms = self.parts.room_lineage(room_id)
        last_hour = self._span(end_ms, 0)
        last = (await usage_report(self.parts.store, last_hour, room_id=rooms)).totals
        if last.cost_pusd < self.min_pusd:
            return None
        usual_hours = [self._span(end_ms, d) for d in range(1, DAYS_COMPARED + 1)]
        usual = Sums(None)
        for period in usual_hours:
            usual.add((await usage_report(self.parts.store, period, room_id=rooms)).totals)
        if last.cost_pusd * DAYS_COMPARED <= self.factor * usual.cost_pusd:
            return None
        hour = now.astimezone(self.parts.quotas.tz).replace(minute=0, second=0, microsecond=0)
        cause = spike_cause(last, usual, DAYS_COMPARED)
        who = {dimension: await self._behind(dimension, last_hour, usual_hours, rooms) for dimension in BEHIND}
        return f"{room_id}|{hour.isoformat()}", spike_text(last, usual, DAYS_COMPARED, cause, who)

    async def _behind(self, dimension: str, last_hour: Period, usual_hours: list[Period],
                      rooms: tuple[str, ...]) -> str | None:  # fmt: skip
        last = await self._rows(dimension, last_hour, rooms)
        usual = [row for period in usual_hours for row in (await self._rows(dimension, period, rooms)).rows]
        return behind(last.rows, usual, DAYS_COMPARED)

    async def _rows(self, dimension: str, period: Period, rooms: tuple[str, ...]) -> Report:
        return await usage_report(self.parts.store, period, group=dimension, room_id=rooms)

    def _span(self, end_ms: int, days_back: int) -> Period:
        end = end_ms - days_back * 24 * HOUR_MS
        return hours_period("last hour", end - HOUR_MS, end, self.parts.quotas.tz)
