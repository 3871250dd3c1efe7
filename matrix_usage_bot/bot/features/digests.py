"""Daily digests per room, at the room's time in the configured timezone (APScheduler cron jobs).

Each day's digest is claimed in the database before it is posted, so it is posted once; a post the
homeserver refuses releases the claim and is tried again a minute later. When the
bot starts after a room's digest time and today's digest was not posted, it is posted then. At most once a
week, a scheduled digest also names the largest saving a cheaper model would have brought (`suggestions.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from matrix_usage_bot.tracking.periods import Period
from matrix_usage_bot.tracking.queries import usage_report

from ..render.answers import Answer
from ..render.digest import DigestData, digest_answer
from .parts import BotParts
from .suggestions import WeeklySuggestions

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Digests:
    parts: BotParts
    scheduler: AsyncIOScheduler
    _: KW_ONLY
    tz: ZoneInfo
    default_time: str
    enabled_by_default: bool = False
    clock: Callable[[], datetime] | None = None
    """The wall clock unless given (tests)."""
    retry_seconds: float = 60.0
    suggestions: WeeklySuggestions | None = None
    """The weekly cheaper-model suggestion of scheduled digests; None: never."""

    def __post_init__(self) -> None:
        if self.clock is None:
            self.clock = lambda: datetime.now(UTC)

    @staticmethod
    def trigger(at: str, tz: ZoneInfo) -> CronTrigger:
        hour, minute = (int(part) for part in at.split(":"))
        return CronTrigger(hour=hour, minute=minute, timezone=tz)

    async def start(self) -> None:
        """Schedule every enabled room, and post today's digest where its time has passed unposted."""
        settings = await self.parts.state.digest_settings()
        if self.enabled_by_default:
            for room_id in list(self.parts.matrix.client.rooms):
                if room_id not in settings:
                    await self.parts.state.set_digest(room_id, True, self.default_time)
            settings = await self.parts.state.digest_settings()
        for room_id, setting in settings.items():
            if setting.enabled:
                self._schedule(room_id, setting.at)
                try:
                    await self._catch_up(room_id, setting.at)
                except Exception:  # that room's retry is scheduled; the others still get theirs
                    log.exception("catching up on the digest of %s failed", room_id)

    async def adopt(self, room_id: str) -> None:
        """A room the bot just joined gets the daily digest when digests are on by default."""
        if self.enabled_by_default and room_id not in await self.parts.state.digest_settings():
            await self.enable(room_id, None)

    async def enable(self, room_id: str, at: str | None) -> str:
        at = at or self.default_time
        await self.parts.state.set_digest(room_id, True, at)
        self._schedule(room_id, at)
        return at

    async def disable(self, room_id: str) -> None:
        setting = (await self.parts.state.digest_settings()).get(room_id)
        await self.parts.state.set_digest(room_id, False, setting.at if setting is not None else self.default_time)
        job = self.scheduler.get_job(self._job_id(room_id))
        if job is not None:
            job.remove()

    def next_run(self, room_id: str) -> datetime | None:
        job = self.scheduler.get_job(self._job_id(room_id))
        return None if job is None else job.next_run_time

    async def post_due(self, room_id: str) -> bool:
        """The scheduled run: post yesterday's digest unless today's was posted already (or another
        bot posts in this room, see ``bot.responders``)."""
        today = self.clock().astimezone(self.tz).date()
        if not await self.parts.matrix.rooms.posts_in(room_id):
            return False
        if not await self.parts.state.claim_digest(room_id, today.isoformat()):
            return False
        suggestions, suggested = self.suggestions, False
        try:
            data = await self._data(room_id, suggest=True)
            if data.suggestion is not None and suggestions is not None:
                suggested = await suggestions.claim(room_id, today)
            answer = digest_answer(data if suggested else replace(data, suggestion=None))
            outbox = self.parts.matrix.outbox
            await outbox.notice(room_id, answer.plain, answer.html, tx_key=f"digest|{room_id}|{today}")
        except Exception:  # not posted: release the claims and try again a little later
            await self.parts.state.release_digest(room_id, today.isoformat())
            if suggested and suggestions is not None:
                await suggestions.release(room_id, today)
            self._retry_later(room_id)
            raise
        log.info("posted the digest of %s in %s", today - timedelta(days=1), room_id)
        day = (today - timedelta(days=1)).isoformat()
        self.parts.notify("digest", f"digest|{room_id}|{today}", {"room_id": room_id, "day": day, "text": answer.plain})
        return True

    def _retry_later(self, room_id: str) -> None:
        log.warning("the digest of %s was not posted; trying again in %.0fs", room_id, self.retry_seconds)
        self.scheduler.add_job(
            self.post_due, "date", run_date=datetime.now(UTC) + timedelta(seconds=self.retry_seconds),
            args=[room_id], id=f"digest-retry:{room_id}", replace_existing=True, misfire_grace_time=3600,
        )  # fmt: skip

    async def build(self, room_id: str) -> Answer:
        """Yesterday in this room (and the rooms it replaced), as of the clock."""
        return digest_answer(await self._data(room_id))

    async def _data(self, room_id: str, suggest: bool = False) -> DigestData:
        rooms = self.parts.room_lineage(room_id)
        today = self.clock().astimezone(self.tz).date()
        yesterday = today - timedelta(days=1)

        def day(d: date) -> Period:
            return Period(d.isoformat(), d, d + timedelta(days=1), self.tz)

        totals = await usage_report(self.parts.store, day(yesterday), room_id=rooms)
        by_agent = await usage_report(self.parts.store, day(yesterday), group="agent", room_id=rooms)
        by_model = await usage_report(self.parts.store, day(yesterday), group="model", room_id=rooms)
        before = await usage_report(self.parts.store, day(yesterday - timedelta(days=1)), room_id=rooms)
        week = Period("week", yesterday - timedelta(days=7), yesterday, self.tz)
        week_total = (await usage_report(self.parts.store, week, room_id=rooms)).totals.total_tokens
        statuses = [s for s in await self.parts.quotas.statuses(rooms) if s.quota.scope != "global"]
        suggestion = None
        if suggest and self.suggestions is not None:
            suggestion = await self.suggestions.due(room_id, rooms, today)
        return DigestData(yesterday, totals, by_agent, by_model, before.totals.total_tokens, week_total / 7, statuses,
                          suggestion)  # fmt: skip

    def _schedule(self, room_id: str, at: str) -> None:
        self.scheduler.add_job(
            self.post_due,
            self.trigger(at, self.tz),
            args=[room_id],
            id=self._job_id(room_id),
            replace_existing=True,
            misfire_grace_time=3600,
            coalesce=True,
        )

    async def _catch_up(self, room_id: str, at: str) -> None:
        now = self.clock().astimezone(self.tz)
        hour, minute = (int(part) for part in at.split(":"))
        if now.time() >= time(hour, minute):
            await self.post_due(room_id)

    @staticmethod
    def _job_id(room_id: str) -> str:
        return f"digest:{room_id}"
