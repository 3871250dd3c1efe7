"""``usage-bot run``: the usage plugin attached to a small standalone host of its own account.

The host (``bot.matrix.session``) logs in, syncs, fills cut timelines, joins on invites and
tombstones; everything about usage is the plugin's (``bot.plugin``), the same one other bots embed.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from datetime import datetime
from typing import Any

from matrix_usage_bot.tracking.quotas import QuotaBook

from .config import Config
from .features.digests import Digests
from .features.quota_warnings import QuotaWatcher
from .matrix.outbox import Outbox
from .matrix.session import MatrixSession
from .plugin import UsagePlugin

log = logging.getLogger(__name__)

_SESSION_OPTIONS = ("sync_timeout_ms", "timeline_limit", "retry")


class UsageBot:
    """The standalone bot: ``matrix`` is the host session, ``plugin`` the usage plugin on its client."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], datetime] | None = None,
        watch_interval: float = 5.0,
        **options: Any,
    ) -> None:
        """``clock`` (tests) replaces the wall clock for quota windows and digests; ``options`` go to the
        session (sync and reconnect settings) and, for ``retry`` (a ``RetryPolicy``), to the plugin's sends too."""
        self.config = config
        session_options = {k: v for k, v in options.items() if k in _SESSION_OPTIONS}
        link_options = {k: v for k, v in options.items() if k not in _SESSION_OPTIONS or k == "retry"}
        self.matrix = MatrixSession(config.standalone(), **session_options)
        self.plugin = UsagePlugin(config, clock=clock, watch_interval=watch_interval, **link_options)

    @classmethod
    async def open(cls, config: Config, **options: Any) -> UsageBot:
        return cls(config, **options)

    @property
    def quotas(self) -> QuotaBook:
        return self.plugin.quotas

    @property
    def digests(self) -> Digests:
        return self.plugin.digests

    @property
    def watcher(self) -> QuotaWatcher:
        return self.plugin.watcher

    @property
    def outbox(self) -> Outbox:
        return self.plugin.link.outbox

    async def start(self) -> None:
        """Attach the plugin first, so it sees the first sync (commands sent while the bot was down)."""
        if not self.plugin.attached:
            await self.plugin.attach(self.matrix.client)
        await self.matrix.start()

    async def run_forever(self) -> None:
        await self.start()
        await self.matrix.run_forever()

    async def close(self) -> None:
        """Stop syncing, let the plugin finish its commands and stop, then close the client."""
        await self.matrix.stop()
        await self.plugin.detach()
        await self.matrix.close()


async def run(config: Config) -> None:
    """Run until SIGTERM or SIGINT, then stop cleanly."""
    bot = await UsageBot.open(config)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = asyncio.create_task(bot.run_forever())
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if runner in done:
            runner.result()
    finally:
        log.info("stopping")
        stopper.cancel()
        await bot.close()
        runner.cancel()
