"""Hard-quota refusals happen in agent processes, which note each in the store
(`tracking.quotas.refusals`); this relay, run by the bot and by `usage-bot serve`, hands each to the
notifier once, across processes and restarts (a second claim marks it sent)."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from matrix_usage_bot.tracking.quotas.refusals import REFUSALS
from matrix_usage_bot.tracking.store import Store

from .notifier import Notifier

log = logging.getLogger(__name__)

SENT = "quota_refusal_sent"
KEEP_MS = 7 * 86_400_000


class RefusalRelay:
    def __init__(self, store: Store, notifier: Notifier, interval: float = 2.0) -> None:
        self.store, self.notifier, self.interval = store, notifier, interval

    async def relay(self) -> int:
        """Notify every refusal not yet sent; returns how many."""
        sent = 0
        for key in await self.store.claimed(REFUSALS):
            try:
                payload = json.loads(key)
                notice_id = str(payload.pop("id"))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            if await self.store.claim(SENT, notice_id):
                self.notifier.notify("quota_refused", notice_id, payload)
                sent += 1
        return sent

    async def run(self) -> None:
        while True:
            try:
                await self.relay()
                cutoff = int(time.time() * 1000) - KEEP_MS
                await self.store.forget_claims(REFUSALS, cutoff)
                await self.store.forget_claims(SENT, cutoff)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("relaying hard-quota refusals failed; trying again")
            await asyncio.sleep(self.interval)
