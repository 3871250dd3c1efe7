"""``UsagePlugin``: the usage commands, digests, warnings and passive collection inside a matrix-nio bot.

A team that already runs a matrix-nio bot adds the plugin to it instead of inviting a second account::

    plugin = UsagePlugin.from_config("config.yaml")   # no `matrix` section needed
    await plugin.attach(client)    # a logged-in nio.AsyncClient that the host keeps syncing itself
    ...
    await plugin.detach()          # callbacks removed, scheduled jobs stopped, the store closed

The plugin registers event callbacks on the host's client and schedules its jobs on the running event
loop. It logs in nowhere, runs no sync loop and joins no room; it answers through the host's client,
so its answers come from the host's account. What it must remember (commands answered, the host's
joins, digests posted, warnings sent) lives in the usage store, never in the host's sync token, so a
host that restarts, with or without its sync token, answers nothing twice. ``usage-bot run`` is this
plugin attached to the small standalone host in ``bot.matrix.session``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from nio import AsyncClient

from matrix_usage_bot.tracking.advice import Alternatives
from matrix_usage_bot.tracking.periods import zone
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.quotas import QuotaBook
from matrix_usage_bot.tracking.store import Store, open_store

from .commands import COMMANDS
from .commands.dispatch import Dispatcher
from .commands.files import too_large_answer
from .commands.request import Services
from .config import Config, load_config
from .dashboard.links import DashboardLinks
from .dashboard.widget import RoomWidget
from .features.digests import Digests
from .features.parts import BotParts
from .features.passive_collection import PassiveCollector
from .features.quota_warnings import QuotaWatcher
from .features.retention import schedule_retention
from .features.spikes import SpikeCheck
from .features.suggestions import WeeklySuggestions
from .http.server import UsageServer
from .matrix.events import CommandContext, is_command, server_of
from .matrix.link import MatrixLink
from .matrix.sending import FileTooLarge
from .notify.notifier import Notifier
from .notify.refusals import RefusalRelay
from .state import BotState

log = logging.getLogger(__name__)


class UsagePlugin:
    """Build with ``from_config``; ``attach`` once, ``detach`` once (then build a new one to attach again).

    The parts below exist while attached: ``store``, ``state``, ``quotas``, ``link`` (the Matrix side,
    on the host's client), ``dispatcher``, ``digests``, ``watcher`` and ``passive`` (None unless
    ``ingest.mindroom``). ``scheduler`` holds the digest and retention jobs.
    """

    store: Store
    state: BotState
    quotas: QuotaBook
    link: MatrixLink
    dispatcher: Dispatcher
    digests: Digests
    watcher: QuotaWatcher
    passive: PassiveCollector | None
    notifier: Notifier

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], datetime] | None = None,
        watch_interval: float = 5.0,
        drain_timeout: float = 30.0,
        **link_options: Any,
    ) -> None:
        """``clock`` (tests) replaces the wall clock for quota windows and digests; ``link_options`` go to
        ``MatrixLink`` (``max_concurrent_commands``, ``retry``, the sends' ``RetryPolicy``)."""
        self.config = config
        self.tz = zone(config.bot.timezone)
        self.clock = clock
        self.watch_interval = watch_interval
        self.drain_timeout = drain_timeout
        self.link_options = link_options
        self.scheduler = AsyncIOScheduler(timezone=self.tz)
        self._tasks: list[asyncio.Task[None]] = []
        self._undo = contextlib.AsyncExitStack()
        self._attached = False
        self._used = False
        self.http: UsageServer | None = None
        """The HTTP API, served in the bot's process with ``http.enabled``."""

    @classmethod
    def from_config(cls, config: Config | str | os.PathLike[str], **options: Any) -> UsagePlugin:
        """From a config file (or a validated ``Config``); see ``config.example.yaml``."""
        return cls(config if isinstance(config, Config) else load_config(config), **options)

    @property
    def attached(self) -> bool:
        return self._attached

    def handles(self, body: str) -> bool:
        """Whether a message is one of the plugin's commands; a host that answers unknown ``!`` commands
        itself can leave these alone."""
        return is_command(body, self.config.bot.command_prefix)

    # -- attach and detach ---------------------------------------------------------------

    async def attach(self, client: AsyncClient) -> None:
        """Start answering through ``client``: a logged-in ``nio.AsyncClient`` that the host syncs.

        Attach before the host's next sync to see what it brings (commands sent while the host was
        down are answered if within ``bot.grace_seconds``). All or nothing: if a step fails (the store
        cannot be opened, ``http.listen``'s port is taken), what the steps before it did is undone
        (callbacks, jobs, tasks, server, store) and the error raised; attaching again, once the cause
        is fixed, starts from nothing.
        """
        if self._used:
            raise RuntimeError("a UsagePlugin attaches once; build a new one (from_config) to attach again")
        self._used = True
        try:
            async with contextlib.AsyncExitStack() as undo:
                await self._start(client, undo)
                self._undo = undo.pop_all()
        except BaseException:
            self.http = None
            self.scheduler = AsyncIOScheduler(timezone=self.tz)
            self._used = False
            raise
        self._attached = True
        log.info("Usage plugin attached to %s (prefix %s)", self.link.user_id, self.config.bot.command_prefix)

    async def _start(self, client: AsyncClient, undo: contextlib.AsyncExitStack) -> None:
        """Each step, then how to undo it on ``undo`` (undone in reverse order, by ``detach`` or a failure)."""
        store = await open_store(self.config.storage.url)
        undo.push_async_callback(store.close)
        state = await BotState.load(store)
        if self.config.matrix is not None:
            await state.import_legacy(Path(self.config.matrix.store_path))
        self._build(client, store, state)
        undo.push_async_callback(self.notifier.close)
        if self.passive is not None:
            await self.passive.start()
            undo.push_async_callback(self.passive.close)
        undo.callback(self._stop_scheduler)
        if self.config.http.enabled:  # before the callbacks: a taken port fails before anything is answered
            self.http = await UsageServer(self.config).start()
            undo.push_async_callback(self.http.close)
        undo.push_async_callback(self._stop_tasks)
        self.link.attach()
        undo.push_async_callback(self.link.detach, self.drain_timeout)  # undone first: commands finish first
        schedule_retention(self.scheduler, self.store, self.config.storage.retention_days)
        self.scheduler.start()
        if self.config.warnings.enabled:
            self._tasks.append(asyncio.create_task(self.watcher.run()))
        if self.notifier.enabled:
            self._tasks.append(asyncio.create_task(RefusalRelay(self.store, self.notifier).run()))
        self._tasks.append(asyncio.create_task(self._start_digests()))

    async def detach(self) -> None:
        """Stop: the plugin's callbacks leave the host's client (the host's own stay), running commands
        finish (up to ``drain_timeout``), scheduled jobs and the quota watcher stop, the store closes."""
        if not self._attached:
            return
        self._attached = False
        await self._undo.aclose()
        log.info("Usage plugin detached from %s", self.link.user_id)

    async def _stop_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    def _stop_scheduler(self) -> None:
        self.scheduler.remove_all_jobs()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def _build(self, client: AsyncClient, store: Store, state: BotState) -> None:
        config = self.config
        self.store, self.state = store, state
        self.link = MatrixLink(
            client, state, command_prefix=config.bot.command_prefix, grace_seconds=config.bot.grace_seconds,
            responders=config.bot.responders, on_command=self._on_command,
            on_message_content=self._on_message_content, on_room_upgraded=self._on_room_upgraded,
            on_joined=self._on_joined, **self.link_options,
        )  # fmt: skip
        self.quotas = QuotaBook(store, config.quotas, self.tz, self.clock)
        self.notifier = Notifier(config.webhooks, config.posthog)
        parts = BotParts(store, state, self.quotas, self.link, self.notifier)
        spikes = SpikeCheck(parts, factor=config.warnings.spike_factor, min_usd=config.warnings.spike_min_usd)
        self.watcher = QuotaWatcher(
            parts, thresholds=config.quotas.thresholds, dm_admins=config.warnings.dm_admins,
            interval=self.watch_interval, spikes=spikes, bot_admins=sorted(config.bot_admins()),
        )  # fmt: skip
        pricer = Pricer(config.pricing.overrides)
        suggestions = WeeklySuggestions(store, pricer, Alternatives(config.advice.alternatives), self.tz)
        self.digests = Digests(
            parts, self.scheduler, tz=self.tz, default_time=config.digests.default_time,
            enabled_by_default=config.digests.enabled_by_default, clock=self.clock, suggestions=suggestions,
        )  # fmt: skip
        services = Services(
            store=store, tz=self.tz, room_lineage=self.link.rooms.lineage, room_name=self.link.rooms.display_name,
            help_rows=list, prefix=config.bot.command_prefix, quotas=self.quotas, digests=self.digests,
            on_quota_change=self.watcher.poke, clock=self.clock, pricer=pricer, dashboard=DashboardLinks(
                store, config.dashboard, config.http.public_url, RoomWidget(client, self.link.admins), self.clock),
        )  # fmt: skip
        admins = config.bot_admins()
        self.dispatcher = Dispatcher(
            COMMANDS, services, is_room_admin=self.link.admins.is_admin, is_bot_admin=admins.__contains__
        )
        ingest = config.ingest
        self.passive = (
            PassiveCollector(
                config.tracking(), own_server=server_of(self.link.user_id), agents=ingest.mindroom_agents,
                agent_prefix=ingest.mindroom_agent_prefix, sender_of=self.link.rooms.event_sender,
            )
            if ingest.mindroom
            else None
        )  # fmt: skip

    async def _start_digests(self) -> None:
        """Schedule the rooms' digests and post the ones missed today, once the host has synced."""
        try:
            await self.link.first_sync()
            await self.digests.start()
        except Exception:
            log.exception("starting the digests failed")

    # -- what the Matrix side hands on ---------------------------------------------------

    async def _on_command(self, ctx: CommandContext) -> None:
        answer = await self.dispatcher.answer(
            room_id=ctx.room_id, sender=ctx.sender, body=ctx.body, thread_root=ctx.thread_root,
            is_direct=ctx.is_direct,
        )  # fmt: skip
        outbox = self.link.outbox
        if answer.attachment is None:
            await outbox.reply(ctx, answer.plain, answer.html)
            return
        try:
            await outbox.reply_file(ctx, answer.attachment, answer.plain, answer.html)
        except FileTooLarge as exc:
            refusal = too_large_answer(ctx.body, answer.attachment.filename, exc.size, exc.limit)
            await outbox.reply(ctx, refusal.plain, refusal.html)

    async def _on_room_upgraded(self, old_room_id: str, new_room_id: str) -> None:
        await self.state.inherit(old_room_id, new_room_id)
        setting = (await self.state.digest_settings()).get(new_room_id)
        if setting is not None and setting.enabled:
            await self.digests.enable(new_room_id, setting.at)

    async def _on_joined(self, room_id: str) -> None:
        await self.digests.adopt(room_id)

    async def _on_message_content(
        self, room_id: str, event_id: str, sender: str, content: dict[str, Any], origin_server_ts: int
    ) -> None:
        if self.passive is not None:
            await self.passive.observe(room_id, event_id, sender, content, origin_server_ts)
