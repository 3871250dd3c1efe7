"""Spike warnings: a room whose last hour cost far more than usual tells its admins, once that hour.

"Usual" is the same hour of the day over the last 7 days, averaged, so a room busy every morning is
not warned every morning. A spike must also reach a minimum cost, so a quiet room is not warned
over cents. The warning names the agent and the model that spent most in that hour.
"""

from __future__ import annotations

from decimal import Decimal

from tracking.periods import Period, hours_period
from tracking.pricing import PICO
from tracking.queries import Report, usage_report

from ..render.answers import Answer
from ..render.numbers import human_usd
from .parts import BotParts

HOUR_MS = 3_600_000
DAYS_COMPARED = 7


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
        by_agent = await usage_report(self.parts.store, last_hour, group="agent", room_id=rooms)
        last = by_agent.totals.cost_pusd
        if last < self.min_pusd:
            return None
        usual = sum([await self._cost(self._span(end_ms, d), rooms) for d in range(1, DAYS_COMPARED + 1)])
        if last * DAYS_COMPARED <= self.factor * usual:
            return None
        hour = now.astimezone(self.parts.quotas.tz).replace(minute=0, second=0, microsecond=0)
        by_model = await usage_report(self.parts.store, last_hour, group="model", room_id=rooms)
        answer = spike_text(last, Decimal(usual) / DAYS_COMPARED, _top(by_agent), _top(by_model))
        return f"{room_id}|{hour.isoformat()}", answer

    def _span(self, end_ms: int, days_back: int) -> Period:
        end = end_ms - days_back * 24 * HOUR_MS
        return hours_period("last hour", end - HOUR_MS, end, self.parts.quotas.tz)

    async def _cost(self, period: Period, rooms: tuple[str, ...]) -> int:
        return (await usage_report(self.parts.store, period, room_id=rooms)).totals.cost_pusd


def _top(report: Report) -> str:
    rows = sorted(report.rows, key=lambda r: (-r.cost_pusd, -r.total_tokens, str(r.key)))
    return str(rows[0].key) if rows and rows[0].key else "unknown"


def spike_text(last_pusd: int, usual_pusd: Decimal, agent: str, model: str) -> Answer:
    usual = human_usd(int(usual_pusd))
    ratio = f"{Decimal(last_pusd) / usual_pusd:.0f} times its usual {usual}" if usual_pusd else "with no usage usually"
    text = (
        f"Usage spike: this room spent {human_usd(last_pusd)} in the last hour, {ratio} at this hour;"
        f" most of it agent {agent} with {model}."
    )
    return Answer.words(text)

