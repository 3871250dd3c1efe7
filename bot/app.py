"""The running bot: config, store, commands and the Matrix client wired together (`usage-bot run`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from tracking.periods import zone
from tracking.quotas import QuotaBook
from tracking.store import Store, open_store

from .commands import COMMANDS
from .commands.dispatch import Dispatcher
from .commands.files import too_large_answer
from .commands.request import Services
from .config import Config
from .features.digests import Digests
from .features.passive_collection import PassiveCollector
from .features.quota_warnings import QuotaWatcher
from .features.retention import schedule_retention
from .matrix.events import CommandContext, server_of
from .matrix.sending import FileTooLarge
from .matrix.session import MatrixSession

log = logging.getLogger(__name__)


class UsageBot:
    """Owns the store connection, the dispatcher and the Matrix client for one bot account."""

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        clock: Callable[[], datetime] | None = None,
        watch_interval: float = 5.0,
        **matrix_options: Any,
    ) -> None:
        """`clock` (tests) replaces the wall clock for quota windows and digests."""
        self.config = config
        self.store = store
        tz = zone(config.bot.timezone)
        self.matrix = MatrixSession.from_config(
            config,
            on_command=self._on_command,
            on_message_content=self._on_message_content,
            on_room_upgraded=self._on_room_upgraded,
            **matrix_options,
        )
        self.scheduler = AsyncIOScheduler(timezone=tz)
        self.quotas = QuotaBook(store, config.quotas, tz, clock)
        self.watcher = QuotaWatcher(
            store, self.quotas, self.matrix, self.room_lineage, thresholds=config.quotas.thresholds,
            dm_admins=config.warnings.dm_admins, interval=watch_interval,
        )  # fmt: skip
        self.digests = Digests(
            store, self.quotas, self.matrix, self.scheduler, self.room_lineage, tz=tz,
            default_time=config.digests.default_time, enabled_by_default=config.digests.enabled_by_default,
            clock=clock,
        )  # fmt: skip
        services = Services(
            store=store,
            tz=tz,
            room_lineage=self.room_lineage,
            room_name=self.matrix.rooms.display_name,
            help_rows=list,
            prefix=config.bot.command_prefix,
            quotas=self.quotas,
            digests=self.digests,
            on_quota_change=self.watcher.poke,
        )
        self.dispatcher = Dispatcher(
            COMMANDS, services, is_room_admin=self.matrix.admins.is_admin, is_bot_admin=self.matrix.is_bot_admin
        )
        ingest = config.ingest
        self.passive = (
            PassiveCollector(
                config.tracking(), own_server=server_of(config.matrix.user_id), agents=ingest.mindroom_agents,
                agent_prefix=ingest.mindroom_agent_prefix, sender_of=self.matrix.rooms.event_sender,
            )
            if ingest.mindroom
            else None
        )  # fmt: skip
        self._watch_task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, config: Config, **options: Any) -> UsageBot:
        store = await open_store(config.storage.url)
        return cls(config, store, **options)

    async def start(self) -> None:
        if self.passive is not None:
            await self.passive.start()
        await self.matrix.start()
        schedule_retention(self.scheduler, self.store, self.config.storage.retention_days)
        if not self.scheduler.running:
            self.scheduler.start()
        await self.digests.start()
        if self.config.warnings.enabled and self._watch_task is None:
            self._watch_task = asyncio.create_task(self.watcher.run())

    async def run_forever(self) -> None:
        await self.start()
        await self.matrix.run_forever()

    async def close(self) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.matrix.stop()
        if self.passive is not None:
            await self.passive.close()
        await self.store.close()

    def room_lineage(self, room_id: str) -> tuple[str, ...]:
        return self.matrix.rooms.lineage(room_id)

    async def _on_command(self, ctx: CommandContext) -> None:
        answer = await self.dispatcher.answer(
            room_id=ctx.room_id, sender=ctx.sender, body=ctx.body, thread_root=ctx.thread_root,
            is_direct=ctx.is_direct,
        )  # fmt: skip
        if answer.attachment is None:
            await self.matrix.outbox.reply(ctx, answer.plain, answer.html)
            return
        try:
            await self.matrix.outbox.reply_file(ctx, answer.attachment, answer.plain, answer.html)
        except FileTooLarge as exc:
            refusal = too_large_answer(ctx.body, answer.attachment.filename, exc.size, exc.limit)
            await self.matrix.outbox.reply(ctx, refusal.plain, refusal.html)

    async def _on_room_upgraded(self, old_room_id: str, new_room_id: str) -> None:
        await self.store.copy_room_settings(old_room_id, new_room_id)
        rows = {row.room_id: row for row in await self.store.digest_settings()}
        if new_room_id in rows and rows[new_room_id].enabled:
            await self.digests.enable(new_room_id, rows[new_room_id].at)

    async def _on_message_content(
        self, room_id: str, event_id: str, sender: str, content: dict[str, Any], origin_server_ts: int
    ) -> None:
        if self.passive is not None:
            await self.passive.observe(room_id, event_id, sender, content, origin_server_ts)


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
