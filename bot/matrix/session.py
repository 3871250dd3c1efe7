"""The bot's Matrix session: one logged-in device with E2EE, synced until stopped.

``MatrixSession`` knows nothing about usage. It owns the nio client and hands it to its
collaborators: ``rooms`` (invites, upgrades, direct chats), ``timeline`` (events in order, commands
run once), ``outbox`` (everything it posts, with one retry policy) and ``admins`` (room admins from
power levels). ``ready``, ``connected`` and ``disconnected`` are events for callers (and tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from nio import AsyncClientConfig, LocalProtocolError, SyncError, SyncResponse

from ..state import BotState
from .events import MatrixSettings
from .login import BotLoginError, log_in
from .nio_client import RateLimitAwareClient
from .outbox import Outbox
from .permissions import RoomAdminCache
from .rooms import Rooms, UpgradeHandler
from .sending import CONNECTION_ERRORS, Backoff, Sender
from .timeline import CommandHandler, ContentHandler, Timeline

log = logging.getLogger(__name__)


class _SyncFailed(RuntimeError):
    pass


class MatrixSession:
    """Driven by ``run_forever()`` and ended by ``stop()``.

    ``on_command(ctx)`` gets each new command once; ``on_message_content(room_id, event_id, sender,
    content, origin_server_ts)`` gets every room message of others, history included;
    ``on_room_upgraded(old, new)`` runs once per verified upgrade.
    """

    def __init__(
        self,
        settings: MatrixSettings,
        state: BotState,
        *,
        command_prefix: str = "!usage",
        grace_seconds: int = 300,
        on_command: CommandHandler | None = None,
        on_message_content: ContentHandler | None = None,
        on_room_upgraded: UpgradeHandler | None = None,
        sync_timeout_ms: int = 30_000,
        timeline_limit: int = 50,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        max_concurrent_commands: int = 4,
    ) -> None:
        self.settings = settings
        self.sync_timeout_ms = sync_timeout_ms
        self.sync_filter = {"room": {"timeline": {"limit": timeline_limit}}}
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max

        store_path = Path(settings.store_path)
        store_path.mkdir(parents=True, exist_ok=True)
        config = AsyncClientConfig(
            store_sync_tokens=True,
            encryption_enabled=True,
            max_timeouts=2,  # then the sync loop / Sender take over with jittered backoff
            request_timeout=60,
        )
        self.client = RateLimitAwareClient(
            settings.homeserver, settings.user_id, device_id=settings.device_id, store_path=str(store_path),
            config=config,
        )  # fmt: skip
        self.state = state
        self.admins = RoomAdminCache(self.client)
        self._synced = asyncio.Condition()
        sender = Sender(self.client, backoff_initial=backoff_initial, backoff_max=backoff_max)
        self.outbox = Outbox(self.client, sender, self._synced)
        self.rooms = Rooms(self.client, settings, self.state, on_room_upgraded)
        self.timeline = Timeline(
            self.client, self.rooms, self.state, self.admins, self.outbox, command_prefix=command_prefix,
            grace_ms=grace_seconds * 1000, on_command=on_command, on_message_content=on_message_content,
            max_concurrent_commands=max_concurrent_commands,
        )  # fmt: skip

        self.ready = asyncio.Event()
        self.connected = asyncio.Event()
        self.disconnected = asyncio.Event()
        self._stopping = asyncio.Event()
        self._loop_done = asyncio.Event()
        self._loop_done.set()
        self._closed = False

    @classmethod
    def from_config(cls, config: Any, state: BotState, **kwargs: Any) -> MatrixSession:
        """Build from the whole config (``bot.config.Config``): its ``matrix`` and ``bot`` sections."""
        kwargs.setdefault("command_prefix", config.bot.command_prefix)
        kwargs.setdefault("grace_seconds", config.bot.grace_seconds)
        return cls(config.matrix, state, **kwargs)

    @property
    def user_id(self) -> str:
        return self.settings.user_id

    def is_bot_admin(self, user_id: str) -> bool:
        return user_id in self.settings.bot_admins

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in and handle the first sync; returns once the bot is ready for events."""
        if self.ready.is_set():
            return
        self.timeline.started_ms = int(time.time() * 1000)
        backoff = Backoff(self.backoff_initial, self.backoff_max)
        while True:
            try:
                if not self.client.logged_in:
                    await log_in(self.client, self.settings)
                if await self._sync_once(timeout_ms=0, full_state=True):
                    break
            except (*CONNECTION_ERRORS, _SyncFailed) as err:
                await self._lost(err, backoff)
            if self._stopping.is_set():
                return
        self._set_connected(True)
        self.ready.set()

    async def run_forever(self) -> None:
        """Sync until ``stop()``; a lost homeserver is retried with capped, jittered backoff."""
        self._loop_done.clear()
        try:
            await self.start()
            backoff = Backoff(self.backoff_initial, self.backoff_max)
            while not self._stopping.is_set():
                try:
                    if not self.client.logged_in:
                        await log_in(self.client, self.settings)
                    # right after an outage, a sync that returns at once confirms the reconnection
                    timeout_ms = self.sync_timeout_ms if self.connected.is_set() else 0
                    if await self._sync_once(timeout_ms=timeout_ms):
                        backoff.reset()
                        self._set_connected(True)
                except (*CONNECTION_ERRORS, _SyncFailed) as err:
                    await self._lost(err, backoff)
        finally:
            self._loop_done.set()

    async def stop(self, drain_timeout: float = 30.0) -> None:
        """Stop syncing, let running commands finish (up to ``drain_timeout``), close."""
        self._stopping.set()
        await self._loop_done.wait()
        if self.timeline.tasks:
            _, pending = await asyncio.wait(set(self.timeline.tasks), timeout=drain_timeout)
            for task in pending:
                task.cancel()
        if not self._closed:
            self._closed = True
            await self.client.close()

    async def _lost(self, err: BaseException, backoff: Backoff) -> None:
        self._set_connected(False)
        delay = backoff.next_delay()
        log.warning("Homeserver unreachable (%s: %s); retrying in %.1fs", type(err).__name__, err, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)

    def _set_connected(self, up: bool) -> None:
        if up and not self.connected.is_set():
            if self.disconnected.is_set():
                log.info("Reconnected to %s", self.settings.homeserver)
            self.connected.set()
            self.disconnected.clear()
        elif not up and not self.disconnected.is_set():
            self.connected.clear()
            self.disconnected.set()

    # -- sync -----------------------------------------------------------------------------

    async def _sync_once(self, timeout_ms: int, full_state: bool = False) -> bool:
        """One sync round; False if ``stop()`` interrupted the long poll.

        The first sync of a process asks for the full state: nio keeps no room state across restarts,
        and digests and warnings must reach quiet rooms too.
        """
        since = self.client.next_batch or self.client.loaded_sync_token
        request = asyncio.ensure_future(
            self.client.sync(timeout=timeout_ms, sync_filter=self.sync_filter, full_state=full_state or None)
        )
        stop_wait = asyncio.ensure_future(self._stopping.wait())
        done, _ = await asyncio.wait({request, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        stop_wait.cancel()
        if request not in done:
            request.cancel()
            with contextlib.suppress(BaseException):
                await request
            return False
        resp = request.result()
        if isinstance(resp, SyncError):
            if resp.status_code == "M_UNKNOWN_TOKEN":
                if not self.settings.password:
                    raise BotLoginError(f"the homeserver no longer accepts the access token: {resp.message}")
                log.warning("The homeserver logged the bot out; logging in again with the password")
                self.client.access_token = ""
            raise _SyncFailed(f"{resp.status_code} {resp.message}")
        await self._handle_sync(resp, since)
        async with self._synced:
            self._synced.notify_all()
        await self._crypto_housekeeping()
        return True

    async def _crypto_housekeeping(self) -> None:
        client = self.client
        with contextlib.suppress(LocalProtocolError):
            if client.outgoing_to_device_messages:
                await client.send_to_device_messages()
            if client.should_upload_keys:
                await client.keys_upload()
            if client.should_query_keys:
                await client.keys_query()
            if client.should_claim_keys:
                await client.keys_claim(client.get_users_for_key_claiming())

    async def _handle_sync(self, resp: SyncResponse, since: str | None) -> None:
        for room_id, invite in resp.rooms.invite.items():
            self.rooms.note_invite(room_id, invite.invite_state)
        await self.rooms.answer_invites()
        for room_id, info in resp.rooms.join.items():
            await self.timeline.handle_room(room_id, info, since)
        for room_id in resp.rooms.leave:
            self.admins.invalidate(room_id)
