"""Threshold warnings: when a quota crosses 75, 90 or 100 percent, tell the room admins once (and for a
quota counted across all rooms, the bot admins and the user concerned, by direct message).

The agents may be another process, so the watcher looks at the store: when new events arrive (or a
quota changes) it recomputes the room's quotas. Each (quota, period, threshold) is claimed in the
database before it is sent and released if the homeserver does not accept it, so it fires once per
period, restarts included, and a failed send is tried again. When usage jumps over
several thresholds at once, one warning names the highest.

A monthly room quota that at the pace so far runs out more than a day before its window ends
(`tracking.advice.Runway.early`) warns the room admins once per window, while its use is still below the
lowest threshold (after that, the thresholds speak); claimed in the store like the thresholds. Once Matrix
took it, webhooks and PostHog get it as a notice of its own kind, `runway`: it carries a forecast
(`runs_out`) where a `quota_warning` carries a `threshold`, and a receiver may want one without the other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from html import escape

from matrix_usage_bot.tracking.advice import runway
from matrix_usage_bot.tracking.quotas import QuotaStatus
from matrix_usage_bot.tracking.store import EVERYWHERE

from ..notify.payloads import quota_json
from ..render.answers import Answer
from ..render.quotas import early_warning_message, mention, warning_message
from .parts import BotParts
from .spikes import SpikeCheck

log = logging.getLogger(__name__)

Send = Callable[[int, str], Awaitable[None]]
RUNWAY = "runway"
"""The claim kind of early runway warnings: one per quota and window."""


def window_key(status: QuotaStatus) -> str:
    """The quota window a warning belongs to: its first day, or for an hour its start."""
    if status.quota.window == "hourly":
        return status.period.start.isoformat()
    return status.period.first_day.isoformat()


class QuotaWatcher:
    def __init__(
        self,
        parts: BotParts,
        *,
        thresholds: Sequence[int],
        dm_admins: bool = False,
        interval: float = 5.0,
        spikes: SpikeCheck | None = None,
        bot_admins: Sequence[str] = (),
    ) -> None:
        self.parts = parts
        self.bot_admins = tuple(bot_admins)
        self.spikes = spikes
        self.thresholds = sorted(thresholds)
        self.dm_admins = dm_admins
        self.interval = interval
        self._seen_seq = -1
        self._seen_rooms: frozenset[str] = frozenset()
        self._poked = asyncio.Event()
        self._retry = False

    def poke(self) -> None:
        """Check soon even without new usage (a quota was set or changed)."""
        self._poked.set()

    async def run(self) -> None:
        while True:
            try:
                seq = await self.parts.store.last_seq()
                rooms = frozenset(self.parts.matrix.client.rooms)  # a room joined since: its usage came before it
                if seq != self._seen_seq or rooms != self._seen_rooms or self._poked.is_set() or self._retry:
                    self._poked.clear()
                    self._retry = False
                    self._seen_seq, self._seen_rooms = seq, rooms
                    await self.check_all()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("checking quotas failed; trying again in %.0fs", self.interval)
            try:
                await asyncio.wait_for(self._poked.wait(), self.interval)
            except TimeoutError:
                pass

    async def check_all(self) -> int:
        """Check every joined room this bot posts in; returns how many warnings were sent.

        Each room on its own: one room whose check fails (a broken quota, a refused send) is logged
        and checked again next time, and never keeps the other rooms from their warnings.
        """
        sent = 0
        for room_id in [*self.parts.matrix.client.rooms, None]:
            try:
                if room_id is None:
                    sent += await self.check_everywhere()
                elif await self.parts.matrix.rooms.posts_in(room_id):
                    sent += await self.check_room(room_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                self._retry = True
                log.exception("checking the quotas of %s failed; trying again later", room_id or "all rooms")
        return sent

    async def check_room(self, room_id: str) -> int:
        sent = 0
        for status in await self.parts.quotas.statuses(self.parts.room_lineage(room_id)):
            sent += await self._early(status, room_id)
            sent += await self._fire(status, room_id, partial(self._warn, room_id, status))
        return sent + await self.check_spike(room_id)

    async def _early(self, status: QuotaStatus, room_id: str) -> int:
        """The early runway warning of a monthly quota, once per window, before any threshold is crossed."""
        lowest = self.thresholds[0] if self.thresholds else 100
        if status.quota.window != "monthly" or status.used * 100 >= lowest * status.limit:
            return 0
        found = runway(status, self.parts.quotas.clock())
        if found is None or not found.early:
            return 0
        key = f"{status.quota.key(room_id)}|{window_key(status)}"
        if not await self.parts.store.claim(RUNWAY, key, room_id):
            return 0
        try:
            admins = await self._room_admins(room_id)
            message = early_warning_message(found, [])
            await self._tell_room(room_id, mention(message, admins), admins, f"runway|{key}")
        except BaseException:
            await self.parts.store.release(RUNWAY, key)
            raise
        log.info("warned %s early: %s runs out before its window ends", room_id, status.quota.describe())
        runs_out = found.runs_out.isoformat() if found.runs_out is not None else None
        self.parts.notify(RUNWAY, f"runway|{key}", {"room_id": room_id, "runs_out": runs_out,
                                                    "quota": quota_json(status), "message": message.plain})  # fmt: skip
        return 1

    async def check_everywhere(self) -> int:
        """Quotas counted across all rooms warn by direct message: the bot admins, and a user their own."""
        sent = 0
        for status in await self.parts.quotas.everywhere_statuses():
            sent += await self._fire(status, None, partial(self._warn_directly, status))
        return sent

    async def _fire(self, status: QuotaStatus, room_id: str | None, send: Send) -> int:
        """Warn of the highest threshold newly crossed, once per quota, window and threshold."""
        crossed = [t for t in self.thresholds if status.used * 100 >= t * status.limit]
        if not crossed:
            return 0
        key, period = status.quota.key(room_id), window_key(status)
        state = self.parts.state
        fresh = [t for t in crossed if await state.claim_warning(key, period, t, room_id or EVERYWHERE)]
        if crossed[-1] not in fresh:
            return 0
        try:
            await send(crossed[-1], f"{key}|{period}|{crossed[-1]}")
        except BaseException:  # not accepted by the homeserver: claim nothing, warn on the next check
            for threshold in fresh:
                await state.release_warning(key, period, threshold)
            raise
        self.parts.notify("quota_warning", f"{key}|{period}|{crossed[-1]}",
                          {"room_id": room_id, "threshold": crossed[-1], "quota": quota_json(status)})  # fmt: skip
        return 1

    async def _warn_directly(self, status: QuotaStatus, threshold: int, tx_key: str) -> None:
        matrix = self.parts.matrix
        people = set(self.bot_admins)
        if status.quota.scope == "user" and status.quota.name.startswith("@"):
            people.add(status.quota.name)
        message = warning_message(status, threshold, [])
        for person in sorted(people - {matrix.user_id}):
            dm = await matrix.rooms.direct_room_with(person)
            await matrix.outbox.text(dm, message.plain, message.html, tx_key=f"{tx_key}|{person}")
        log.info("warned %s directly: %s%% of %s", ", ".join(sorted(people)), threshold, status.quota.describe())

    async def _warn(self, room_id: str, status: QuotaStatus, threshold: int, tx_key: str) -> None:
        admins = await self._room_admins(room_id)
        await self._tell_room(room_id, warning_message(status, threshold, admins), admins, tx_key)
        log.info("warned %s: %s%% of %s", room_id, threshold, status.quota.describe())
        if self.dm_admins:
            for admin in admins:
                await self._direct_message(admin, room_id, status, threshold)

    async def _room_admins(self, room_id: str) -> list[str]:
        matrix = self.parts.matrix
        return sorted(a for a in await matrix.admins.admins(room_id) if a != matrix.user_id)

    async def _tell_room(self, room_id: str, message: Answer, admins: list[str], tx_key: str) -> None:
        """An m.text mentioning the admins. The transaction id is derived from the claim, so a resend
        after an unclear failure is one event."""
        await self.parts.matrix.outbox.text(room_id, message.plain, message.html, mentions=admins, tx_key=tx_key)

    async def check_spike(self, room_id: str) -> int:
        if self.spikes is None or not self.spikes.enabled:
            return 0
        found = await self.spikes.spike(room_id)
        if found is None:
            return 0
        key, message = found
        if not await self.parts.state.claim_spike(key, room_id):
            return 0
        try:
            admins = await self._room_admins(room_id)
            await self._tell_room(room_id, mention(message, admins), admins, f"spike|{key}")
        except BaseException:
            await self.parts.state.release_spike(key)
            raise
        log.info("warned %s of a usage spike", room_id)
        self.parts.notify("spike", f"spike|{key}", {"room_id": room_id, "message": message.plain})
        return 1

    async def _direct_message(self, admin: str, room_id: str, status: QuotaStatus, threshold: int) -> None:
        room = self.parts.matrix.client.rooms.get(room_id)
        where = f"{room.display_name} ({room_id})" if room is not None else room_id
        message = warning_message(status, threshold, [])
        try:
            dm = await self.parts.matrix.rooms.direct_room_with(admin)
            plain, html = f"In {where}: {message.plain}", f"In {escape(where)}: {message.html}"
            await self.parts.matrix.outbox.text(dm, plain, html)
        except Exception:
            log.exception("could not send the warning to %s directly", admin)
