"""The running bot: config, store, commands and the Matrix client wired together (`usage-bot run`)."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from tracking.periods import zone
from tracking.store import Store, open_store

from .commands import COMMANDS
from .commands.dispatch import Dispatcher
from .commands.request import Services
from .config import Config
from .matrix_client import MatrixBot
from .matrix_events import CommandContext
from .passive import PassiveCollector

log = logging.getLogger(__name__)


class UsageBot:
    """Owns the store connection, the dispatcher and the Matrix client for one bot account."""

    def __init__(self, config: Config, store: Store, **matrix_options: Any) -> None:
        self.config = config
        self.store = store
        self.matrix = MatrixBot.from_config(
            config,
            on_command=self._on_command,
            on_message_content=self._on_message_content,
            **matrix_options,
        )
        services = Services(
            store=store,
            tz=zone(config.bot.timezone),
            room_lineage=self.room_lineage,
            room_name=self.room_name,
            help_rows=list,
            prefix=config.bot.command_prefix,
        )
        self.dispatcher = Dispatcher(
            COMMANDS, services, is_room_admin=self.matrix.admins.is_admin, is_bot_admin=self.matrix.is_bot_admin
        )
        self.passive = PassiveCollector(config.storage.url) if config.ingest.mindroom else None
        self.scheduler = AsyncIOScheduler(timezone=config.bot.timezone)

    @classmethod
    async def open(cls, config: Config, **matrix_options: Any) -> UsageBot:
        store = await open_store(config.storage.url)
        return cls(config, store, **matrix_options)

    async def start(self) -> None:
        if self.passive is not None:
            await self.passive.start()
        await self.matrix.start()
        if not self.scheduler.running:
            self.scheduler.start()

    async def run_forever(self) -> None:
        await self.start()
        await self.matrix.run_forever()

    async def close(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.matrix.stop()
        if self.passive is not None:
            await self.passive.close()
        await self.store.close()

    def room_lineage(self, room_id: str) -> tuple[str, ...]:
        """The room and every room it replaced through upgrades, newest first."""
        return (room_id, *self.matrix.state.predecessors(room_id))

    def room_name(self, room_id: str) -> str | None:
        room = self.matrix.client.rooms.get(room_id)
        return room.display_name if room is not None else None

    async def _on_command(self, ctx: CommandContext) -> None:
        answer = await self.dispatcher.answer(
            room_id=ctx.room_id, sender=ctx.sender, body=ctx.body, thread_root=ctx.thread_root,
            is_direct=ctx.is_direct,
        )  # fmt: skip
        await self.matrix.reply(ctx, answer.plain, answer.html)

    async def _on_message_content(
        self, room_id: str, event_id: str, sender: str, content: dict[str, Any], origin_server_ts: int
    ) -> None:
        if self.passive is not None:
            self.passive.observe(room_id, event_id, sender, content, origin_server_ts)


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
