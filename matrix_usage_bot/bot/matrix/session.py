"""The standalone bot's Matrix session: one logged-in device with E2EE, synced until stopped.

``MatrixSession`` is the small host that ``usage-bot run`` puts around the plugin. It knows nothing
about usage: it logs in, syncs, keeps the E2EE keys moving, joins rooms (``joins``: invites from
allowed inviters, tombstones) and hands every joined room's events to the event callbacks of its
nio client, in timeline order: a cut timeline is first completed from ``/messages`` back to the
previous sync token, so nothing that happened while the bot was down is skipped. Whatever is
attached to ``client`` (the plugin, or a test's recorder) sees them as in any other nio bot.
``ready``, ``connected`` and ``disconnected`` are events for callers (and tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    Event,
    LocalProtocolError,
    MatrixRoom,
    RoomUpgradeEvent,
    SyncError,
    SyncResponse,
)

from matrix_usage_bot.tracking.retry import Backoff, RetryPolicy

from .events import MatrixSettings, is_own_join
from .gaps import fill_gap
from .joins import Joins
from .login import BotLoginError, log_in
from .nio_client import RateLimitAwareClient
from .sending import CONNECTION_ERRORS

log = logging.getLogger(__name__)


SYNC_RETRY = RetryPolicy(1.0, 60.0)


class _SyncFailed(RuntimeError):
    pass


async def exchange_keys(client: AsyncClient) -> None:
    """The E2EE key traffic a sync leaves due (room keys to send, own keys to upload, others' to query and claim),
    which a client driving its own syncs must do itself (nio's sync_forever would)."""
    with contextlib.suppress(LocalProtocolError):
        if client.outgoing_to_device_messages:
            await client.send_to_device_messages()
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())


class MatrixSession:
    """Driven by ``run_forever()``; ``stop()`` ends the sync loop, ``close()`` the client."""

    def __init__(
        self,
        settings: MatrixSettings,
        *,
        sync_timeout_ms: int = 30_000,
        timeline_limit: int = 50,
        retry: RetryPolicy = SYNC_RETRY,
    ) -> None:
        self.settings = settings
        self.sync_timeout_ms = sync_timeout_ms
        self.sync_filter = {"room": {"timeline": {"limit": timeline_limit}}}
        self.retry = retry

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
        self.joins = Joins(self.client, settings)

        self.ready = asyncio.Event()
        self.connected = asyncio.Event()
        self.disconnected = asyncio.Event()
        self._stopping = asyncio.Event()
        self._loop_done = asyncio.Event()
        self._loop_done.set()
        self._closed = False

    @property
    def user_id(self) -> str:
        return self.settings.user_id

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in and handle the first sync; returns once the bot is ready for events."""
        if self.ready.is_set():
            return
        backoff = self.retry.start()
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
            backoff = self.retry.start()
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

    async def stop(self) -> None:
        """Stop syncing; returns once the sync loop has ended. The client stays open for sends."""
        self._stopping.set()
        await self._loop_done.wait()

    async def close(self) -> None:
        """Stop syncing and close the client."""
        await self.stop()
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
        self.client.hold_events()
        try:
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
        finally:
            held = self.client.release_events()
        if request not in done:
            await self._deliver(held)  # nio took the sync token if it got this far: hand on what it saw
            return False
        resp = request.result()
        if isinstance(resp, SyncError):
            if resp.status_code == "M_UNKNOWN_TOKEN":
                if not self.settings.password:
                    raise BotLoginError(f"the homeserver no longer accepts the access token: {resp.message}")
                log.warning("The homeserver logged the bot out; logging in again with the password")
                self.client.access_token = ""
            raise _SyncFailed(f"{resp.status_code} {resp.message}")
        await self._handle_sync(resp, since, held)
        await exchange_keys(self.client)
        return True

    async def _handle_sync(self, resp: SyncResponse, since: str | None, held: list[tuple[MatrixRoom, Event]]) -> None:
        for room_id, invite in resp.rooms.invite.items():
            self.joins.note_invite(room_id, invite.invite_state)
        await self.joins.answer_invites()
        by_room: dict[str, list[tuple[MatrixRoom, Event]]] = defaultdict(list)
        for room, ev in held:
            by_room[room.room_id].append((room, ev))
        for room_id, info in resp.rooms.join.items():
            await self._handle_room(room_id, info, since, by_room.pop(room_id, []))
        await self._deliver([pair for pairs in by_room.values() for pair in pairs])

    async def _handle_room(
        self, room_id: str, info: Any, since: str | None, held: list[tuple[MatrixRoom, Event]]
    ) -> None:
        """One joined room of a sync response: the missed events first, then the timeline, then tombstones.

        A room joined in this very sync is not filled in: what lies before the join is history.
        """
        room = self.client.rooms.get(room_id)
        filled: list[Event] = []
        just_joined = any(is_own_join(ev, self.user_id) for ev in info.timeline.events)
        if room is not None and info.timeline.limited and since and info.timeline.prev_batch and not just_joined:
            filled = await fill_gap(self.client, room_id, info.timeline.prev_batch, since)
        await self._deliver([(room, ev) for ev in filled if room is not None] + held)
        for ev in [*filled, *info.timeline.events]:
            if isinstance(ev, RoomUpgradeEvent):
                try:
                    await self.joins.follow_tombstone(room_id, ev)
                except Exception:
                    log.exception("Following the tombstone %s in %s failed", ev.event_id, room_id)

    async def _deliver(self, events: list[tuple[MatrixRoom, Event]]) -> None:
        for room, ev in events:
            try:
                await self.client.run_event_callbacks(room, ev)
            except Exception:  # one bad event must not cost the rest of the batch
                log.exception("Handling %s in %s failed", getattr(ev, "event_id", "?"), room.room_id)
