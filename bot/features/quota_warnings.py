"""Threshold warnings: when a room's quota crosses 75, 90 or 100 percent, tell the room admins once.

The agents may be another process, so the watcher looks at the store: when new events arrive (or a
quota changes) it recomputes the room's quotas. Each (quota, period, threshold) is claimed in the
database before it is sent and released if the homeserver does not accept it, so it fires once per
period, restarts included, and a failed send is tried again. When usage jumps over
several thresholds at once, one warning names the highest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from html import escape

from tracking.quotas import QuotaStatus

from ..render.quotas import warning_message
from .parts import BotParts

log = logging.getLogger(__name__)


class QuotaWatcher:
    def __init__(
        self,
        parts: BotParts,
        *,
        thresholds: Sequence[int],
        dm_admins: bool = False,
        interval: float = 5.0,
    ) -> None:
        self.parts = parts
        self.thresholds = sorted(thresholds)
        self.dm_admins = dm_admins
        self.interval = interval
        self._seen_seq = -1
        self._poked = asyncio.Event()
        self._retry = False

    def poke(self) -> None:
        """Check soon even without new usage (a quota was set or changed)."""
        self._poked.set()

    async def run(self) -> None:
        while True:
            try:
                seq = await self.parts.store.last_seq()
                if seq != self._seen_seq or self._poked.is_set() or self._retry:
                    self._poked.clear()
                    self._retry = False
                    self._seen_seq = seq
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
        for room_id in list(self.parts.matrix.client.rooms):
            try:
                if await self.parts.matrix.rooms.posts_in(room_id):
                    sent += await self.check_room(room_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                self._retry = True
                log.exception("checking the quotas of %s failed; trying again later", room_id)
        return sent

    async def check_room(self, room_id: str) -> int:
        sent = 0
        for status in await self.parts.quotas.statuses(self.parts.room_lineage(room_id)):
            if status.quota.scope == "global":
                continue
            crossed = [t for t in self.thresholds if status.used * 100 >= t * status.limit]
            if not crossed:
                continue
            key, period = status.quota.key(room_id), status.period.first_day.isoformat()
            fresh = [t for t in crossed if await self.parts.state.claim_warning(key, period, t, room_id)]
            if crossed[-1] not in fresh:
                continue
            try:
                await self._warn(room_id, status, crossed[-1], tx_key=f"{key}|{period}|{crossed[-1]}")
            except BaseException:  # not accepted by the homeserver: claim nothing, warn on the next check
                for threshold in fresh:
                    await self.parts.state.release_warning(key, period, threshold)
                raise
            sent += 1
        return sent

    async def _warn(self, room_id: str, status: QuotaStatus, threshold: int, tx_key: str) -> None:
        """The transaction id is derived from the claim, so a resend after an unclear failure is one event."""
        admins = sorted(a for a in await self.parts.matrix.admins.admins(room_id) if a != self.parts.matrix.user_id)
        message = warning_message(status, threshold, admins)
        await self.parts.matrix.outbox.text(room_id, message.plain, message.html, mentions=admins, tx_key=tx_key)
        log.info("warned %s: %s%% of %s", room_id, threshold, status.quota.describe())
        if self.dm_admins:
            for admin in admins:
                await self._direct_message(admin, room_id, status, threshold)

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
