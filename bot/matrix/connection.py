"""The Matrix side of the bot: login, E2EE, the sync loop, invites, upgrades and command dispatch.

``MatrixBot`` knows nothing about usage; it hands commands to ``on_command`` and every
room message to ``on_message_content`` and offers ``reply``/``reply_file``/``send_notice``/``send_text``.

Ordering guarantees: events are handled in timeline order per sync batch. A batch whose
timeline was cut (``limited``) is completed from ``/messages`` back to the previous sync
token first, so nothing that happened while the bot was down is skipped. nio saves the
sync token before handing out a batch; a command is claimed in ``BotStateStore`` before
it is answered, so the guarantee is "at most once", restarts included.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from nio import (
    AsyncClientConfig,
    Event,
    InviteMemberEvent,
    JoinError,
    KeysUploadError,
    LocalProtocolError,
    LoginError,
    MegolmEvent,
    MessageDirection,
    RoomMemberEvent,
    RoomMessage,
    RoomMessagesError,
    RoomMessageText,
    RoomUpgradeEvent,
    SyncError,
    SyncResponse,
    WhoamiError,
)

from bot.matrix.events import (
    CommandContext,
    MatrixSettings,
    inviter_allowed,
    is_command,
    is_edit,
    server_of,
    thread_root_of,
)
from bot.matrix.permissions import RoomAdminCache
from bot.matrix.sending import CONNECTION_ERRORS, Backoff, FileUpload, Sender, SendError
from bot.matrix.state import BotStateStore

from .nio_client import UsageBotClient

log = logging.getLogger(__name__)

CommandHandler = Callable[[CommandContext], Awaitable[None]]
ContentHandler = Callable[[str, str, str, dict[str, Any], int], Awaitable[None]]
UpgradeHandler = Callable[[str, str], Awaitable[None]]

ERROR_REPLY = "Something went wrong while answering that command."


class BotLoginError(RuntimeError):
    """The homeserver refused the configured credentials."""


class _SyncFailed(RuntimeError):
    pass


class MatrixBot:
    """A matrix-nio bot with E2EE, driven by ``run_forever()`` and ended by ``stop()``.

    ``on_command(ctx)`` gets each new ``!usage`` command once; ``on_message_content(room_id,
    event_id, sender, content, origin_server_ts)`` gets every room message of others, history
    included; ``on_room_upgraded(old, new)`` runs once per followed upgrade. ``ready``,
    ``connected`` and ``disconnected`` are events for callers (and tests) to wait on.
    """

    def __init__(
        self,
        settings: MatrixSettings,
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
        self.command_prefix = command_prefix
        self.grace_ms = grace_seconds * 1000
        self._on_command = on_command
        self._on_message_content = on_message_content
        self._on_room_upgraded = on_room_upgraded
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
        self.client = UsageBotClient(
            settings.homeserver,
            settings.user_id,
            device_id=settings.device_id,
            store_path=str(store_path),
            config=config,
        )
        self.state = BotStateStore(store_path)
        self.admins = RoomAdminCache(self.client)
        self.sender = Sender(self.client, backoff_initial=backoff_initial, backoff_max=backoff_max)

        self.ready = asyncio.Event()
        self.connected = asyncio.Event()
        self.disconnected = asyncio.Event()
        self._stopping = asyncio.Event()
        self._loop_done = asyncio.Event()
        self._loop_done.set()
        self._synced = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(max_concurrent_commands)
        self._pending_invites: dict[str, InviteMemberEvent] = {}
        self._started_ms = 0
        self._closed = False

    @classmethod
    def from_config(cls, config: Any, **kwargs: Any) -> MatrixBot:
        """Build from the whole config (``bot.config.Config``): its ``matrix`` and ``bot`` sections."""
        kwargs.setdefault("command_prefix", config.bot.command_prefix)
        kwargs.setdefault("grace_seconds", config.bot.grace_seconds)
        return cls(config.matrix, **kwargs)

    @property
    def user_id(self) -> str:
        return self.settings.user_id

    def is_bot_admin(self, user_id: str) -> bool:
        return user_id in self.settings.bot_admins

    async def room_admins(self, room_id: str) -> set[str]:
        return await self.admins.admins(room_id)

    async def may_administer(self, room_id: str, user_id: str) -> bool:
        """Bot admins may do everything; otherwise the user must be a room admin."""
        return self.is_bot_admin(user_id) or await self.admins.is_admin(room_id, user_id)

    # -- lifecycle ------------------------------------------------------------------------

    async def login(self) -> None:
        s = self.settings
        if s.access_token:
            self.client.restore_login(s.user_id, s.device_id, s.access_token)
            who = await self.client.whoami()
            if isinstance(who, WhoamiError):
                raise BotLoginError(f"the access token for {s.user_id} was rejected: {who.status_code}")
            if who.device_id and who.device_id != s.device_id:
                raise BotLoginError(
                    f"the access token belongs to device {who.device_id}, not the configured device_id {s.device_id}"
                )
        elif s.password:
            resp = await self.client.login(password=s.password, device_name="usage-bot")
            if isinstance(resp, LoginError):
                raise BotLoginError(f"login as {s.user_id} failed: {resp.status_code} {resp.message}")
        else:
            raise BotLoginError("matrix.password or matrix.access_token is required")
        if self.client.should_upload_keys:
            keys = await self.client.keys_upload()
            if isinstance(keys, KeysUploadError):
                log.error(
                    "Uploading E2EE keys for device %s failed (%s). If the store under store_path was "
                    "lost, delete the device or configure a new device_id.",
                    self.client.device_id,
                    keys.message,
                )
        log.info("Logged in as %s (device %s)", s.user_id, self.client.device_id)

    async def start(self) -> None:
        """Log in and handle the first sync; returns once the bot is ready for events."""
        if self.ready.is_set():
            return
        self._started_ms = int(time.time() * 1000)
        backoff = Backoff(self.backoff_initial, self.backoff_max)
        while True:
            try:
                if not self.client.logged_in:
                    await self.login()
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
                        await self.login()
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
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=drain_timeout)
            for task in pending:
                task.cancel()
        if not self._closed:
            self._closed = True
            await self.client.close()
            self.state.close()

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
            for ev in invite.invite_state:
                if isinstance(ev, InviteMemberEvent) and ev.state_key == self.user_id and ev.membership == "invite":
                    self._pending_invites[room_id] = ev
        await self._answer_invites()
        for room_id, info in resp.rooms.join.items():
            events: list[Any] = list(info.timeline.events)
            for state_event in info.state:  # state that changed in a gap arrives here, not in the timeline
                self.admins.observe(room_id, state_event.source.get("type"))
            just_joined = self._note_joins(room_id, [*info.state, *events])
            if info.timeline.limited and since and info.timeline.prev_batch and not just_joined:
                events = await self._fill_gap(room_id, info.timeline.prev_batch, since) + events
            for ev in events:
                try:
                    await self._on_timeline_event(room_id, ev)
                except Exception:  # one bad event must not cost the rest of the batch
                    log.exception("Handling %s in %s failed", getattr(ev, "event_id", "?"), room_id)
        for room_id in resp.rooms.leave:
            self.admins.invalidate(room_id)

    async def _fill_gap(self, room_id: str, prev_batch: str, since: str, max_pages: int = 20) -> list[Any]:
        """Events between the previous sync and a cut timeline, oldest first."""
        found: list[Any] = []
        start: str | None = prev_batch
        for _ in range(max_pages):
            try:
                resp = await self.client.room_messages(
                    room_id, start=start, end=since, direction=MessageDirection.back, limit=100
                )
            except CONNECTION_ERRORS as err:
                log.warning("Could not fetch missed events of %s: %s", room_id, err)
                break
            if isinstance(resp, RoomMessagesError):
                log.warning("Could not fetch missed events of %s: %s", room_id, resp.message)
                break
            found.extend(resp.chunk)
            if not resp.chunk or not resp.end or resp.end == start:
                break
            start = resp.end
        else:
            log.warning("More missed events in %s than fetched; older ones are skipped", room_id)
        found.reverse()
        log.info("Fetched %d events of %s missed in a cut sync timeline", len(found), room_id)
        return found

    def _note_joins(self, room_id: str, events: Iterable[Any]) -> bool:
        """Record the bot's new joins among ``events``; True if there was one.

        A full-state sync repeats the join that made the bot a member; only a newer one is a new join.
        """
        joined = False
        known = self.state.joined_ts(room_id)
        for ev in events:
            if (
                isinstance(ev, RoomMemberEvent)
                and ev.state_key == self.user_id
                and ev.membership == "join"
                and ev.prev_membership != "join"
                and (known is None or ev.server_timestamp > known)
            ):
                self.state.record_join(room_id, ev.server_timestamp)
                joined = True
        return joined

    # -- invites and upgrades -------------------------------------------------------------

    async def _answer_invites(self) -> None:
        """Join or reject pending invites; one the homeserver did not get stays pending."""
        for room_id, ev in list(self._pending_invites.items()):
            try:
                if inviter_allowed(ev.sender, self.settings.allowed_inviters):
                    await self._accept_invite(room_id, ev)
                else:
                    log.info("Rejecting the invite to %s from %s (not an allowed inviter)", room_id, ev.sender)
                    await self.client.room_leave(room_id)
            except CONNECTION_ERRORS as err:
                log.warning("Could not answer the invite to %s yet: %s", room_id, err)
                continue
            self._pending_invites.pop(room_id, None)

    async def _accept_invite(self, room_id: str, ev: InviteMemberEvent) -> None:
        resp = await self.client.join(room_id)
        if isinstance(resp, JoinError):
            log.warning("Could not join %s: %s", room_id, resp)
            return
        log.info("Joined %s on the invite of %s", room_id, ev.sender)
        await self._finish_upgrades_to(room_id)

    async def _follow_upgrade(self, old_room_id: str, ev: RoomUpgradeEvent) -> None:
        """Note a tombstone; join its room only when an allowed inviter sent it.

        The rooms are linked later, in ``_finish_upgrades_to``, and only if the new room's create
        event names the old room as its predecessor: a tombstone alone proves nothing.
        """
        new_room_id = ev.replacement_room
        if not new_room_id or new_room_id == old_room_id:
            return
        self.state.note_upgrade(old_room_id, new_room_id)
        if new_room_id not in self.client.rooms:
            if not inviter_allowed(ev.sender, self.settings.allowed_inviters):
                log.info(
                    "Room %s was upgraded to %s by %s, not an allowed inviter; waiting for an invite",
                    old_room_id,
                    new_room_id,
                    ev.sender,
                )
                return
            resp = await self.client.join_via(new_room_id, [server_of(ev.sender)])
            if isinstance(resp, JoinError):
                log.warning(
                    "Room %s was upgraded to %s but joining it failed (%s); waiting for an invite",
                    old_room_id,
                    new_room_id,
                    resp,
                )
                return
            log.info("Followed the upgrade of %s to %s", old_room_id, new_room_id)
        await self._finish_upgrades_to(new_room_id)

    async def _predecessor_of(self, room_id: str) -> str | None:
        """The room that ``room_id``'s create event names as its predecessor, read from the homeserver."""
        resp = await self.client.room_get_state_event(room_id, "m.room.create")
        content = getattr(resp, "content", None)
        predecessor = content.get("predecessor") if isinstance(content, dict) else None
        old = predecessor.get("room_id") if isinstance(predecessor, dict) else None
        return old if isinstance(old, str) else None

    async def _finish_upgrades_to(self, new_room_id: str) -> None:
        pending = self.state.pending_upgrades_to(new_room_id)
        if not pending:
            return
        predecessor = await self._predecessor_of(new_room_id)
        for old_room_id in pending:
            if old_room_id != predecessor:
                log.warning(
                    "A tombstone in %s names %s, whose create event does not name it as predecessor; not followed",
                    old_room_id,
                    new_room_id,
                )
                self.state.drop_upgrade(old_room_id, new_room_id)
                continue
            if self.state.finish_upgrade(old_room_id):
                try:
                    await self.on_room_upgraded(old_room_id, new_room_id)
                except Exception:
                    log.exception("on_room_upgraded(%s, %s) failed", old_room_id, new_room_id)

    async def on_room_upgraded(self, old_room_id: str, new_room_id: str) -> None:
        """Called once per upgrade after the bot joined the new room; override or pass a callback."""
        if self._on_room_upgraded is not None:
            await self._on_room_upgraded(old_room_id, new_room_id)

    # -- messages -------------------------------------------------------------------------

    async def _on_timeline_event(self, room_id: str, ev: Event) -> None:
        event_type = ev.source.get("type")
        if "state_key" in ev.source:
            self.admins.observe(room_id, event_type)
        if isinstance(ev, RoomUpgradeEvent):
            await self._follow_upgrade(room_id, ev)
            return
        if isinstance(ev, MegolmEvent):
            log.warning("Could not decrypt %s in %s (session %s)", ev.event_id, room_id, ev.session_id)
            return
        if not isinstance(ev, RoomMessage) or ev.sender == self.user_id:
            return
        content = ev.source.get("content") or {}
        if self._on_message_content is not None:
            try:
                await self._on_message_content(room_id, ev.event_id, ev.sender, content, ev.server_timestamp)
            except Exception:
                log.exception("on_message_content failed for %s", ev.event_id)
        ctx = self._command_context(room_id, ev, content)
        if ctx is not None and self.state.claim(ctx.event_id, room_id):
            task = asyncio.create_task(self._run_command(ctx))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _command_context(self, room_id: str, ev: RoomMessage, content: dict[str, Any]) -> CommandContext | None:
        if not isinstance(ev, RoomMessageText) or content.get("msgtype") != "m.text" or is_edit(content):
            return None
        if not is_command(ev.body, self.command_prefix):
            return None
        ts = ev.server_timestamp
        if ts < self._started_ms - self.grace_ms:
            return None
        joined = self.state.joined_ts(room_id)
        if joined is not None and ts < joined:
            return None
        return CommandContext(
            room_id=room_id,
            event_id=ev.event_id,
            sender=ev.sender,
            body=ev.body,
            thread_root=thread_root_of(content),
            is_direct=self.is_direct_chat(room_id, ev.sender),
            encrypted=bool(ev.decrypted),
            origin_server_ts=ts,
        )

    def is_direct_chat(self, room_id: str, user_id: str) -> bool:
        """Whether the room is, right now, a chat of just the bot and ``user_id`` (joined or invited).

        Decided from current membership, never from a flag set once: a direct chat that others
        joined later is a shared room, and cross-room answers there would leak to every member.
        """
        room = self.client.rooms.get(room_id)
        if room is None:
            return False
        members = set(room.users) | set(room.invited_users)
        return members == {self.user_id, user_id}

    async def _run_command(self, ctx: CommandContext) -> None:
        async with self._slots:
            ctx = dataclasses.replace(ctx, is_direct=self.is_direct_chat(ctx.room_id, ctx.sender))
            try:
                if self._on_command is not None:
                    await self._on_command(ctx)
            except Exception:
                log.exception("Command %s from %s in %s failed", ctx.event_id, ctx.sender, ctx.room_id)
                try:
                    await self.reply(ctx, ERROR_REPLY, html.escape(ERROR_REPLY))
                except Exception:
                    log.exception("Could not send the error reply to %s", ctx.event_id)

    # -- sending --------------------------------------------------------------------------

    async def wait_for_room(self, room_id: str, timeout: float = 30.0) -> None:
        """Wait until a sync has shown the room (e.g. right after joining it).

        nio must know a room's state (encrypted or not, its members) before it can send to it.
        """
        if room_id in self.client.rooms:
            return
        try:
            async with self._synced:
                await asyncio.wait_for(self._synced.wait_for(lambda: room_id in self.client.rooms), timeout)
        except TimeoutError:
            raise SendError(f"the bot is not in room {room_id}") from None

    async def reply(self, ctx: CommandContext, plain: str, html_body: str | None = None) -> str:
        """Answer a command: in its thread if it was asked in one, else as a reply to it."""
        return await self.send_notice(
            ctx.room_id, plain, html_body, reply_to_event_id=ctx.event_id, thread_root=ctx.thread_root
        )

    async def reply_file(
        self, ctx: CommandContext, upload: FileUpload, caption: str, caption_html: str | None = None
    ) -> str:
        """Answer a command with a file (``m.image``/``m.file``, encrypted in encrypted rooms), captioned.

        Raises ``FileTooLarge`` when the file is over the homeserver's upload limit."""
        return await self.send_file(
            ctx.room_id, upload, caption, caption_html, reply_to_event_id=ctx.event_id, thread_root=ctx.thread_root
        )

    async def send_file(
        self,
        room_id: str,
        upload: FileUpload,
        caption: str,
        caption_html: str | None = None,
        *,
        reply_to_event_id: str | None = None,
        thread_root: str | None = None,
    ) -> str:
        await self.wait_for_room(room_id)
        return await self.sender.file(
            room_id, upload, caption, caption_html, reply_to=reply_to_event_id, thread_root=thread_root
        )

    async def send_notice(
        self,
        room_id: str,
        plain: str,
        html_body: str | None = None,
        reply_to_event_id: str | None = None,
        thread_root: str | None = None,
        tx_key: str | None = None,
    ) -> str:
        await self.wait_for_room(room_id)
        return await self.sender.notice(
            room_id, plain, html_body, reply_to=reply_to_event_id, thread_root=thread_root, tx_key=tx_key
        )

    async def send_text(
        self,
        room_id: str,
        plain: str,
        html_body: str | None = None,
        *,
        mentions: Iterable[str] | None = None,
        reply_to_event_id: str | None = None,
        thread_root: str | None = None,
        tx_key: str | None = None,
    ) -> str:
        await self.wait_for_room(room_id)
        return await self.sender.text(
            room_id, plain, html_body, mentions=mentions, reply_to=reply_to_event_id, thread_root=thread_root,
            tx_key=tx_key,
        )  # fmt: skip

    async def event_sender(self, room_id: str, event_id: str) -> str | None:
        """Who sent an event, asked of the homeserver; None if it cannot say."""
        try:
            resp = await self.client.room_get_event(room_id, event_id)
        except CONNECTION_ERRORS as err:
            log.warning("could not fetch %s in %s: %s", event_id, room_id, err)
            return None
        event = getattr(resp, "event", None)
        return getattr(event, "sender", None)

    async def direct_room_with(self, user_id: str) -> str:
        """An existing direct chat with ``user_id`` (just the two of us), else a new one."""
        for room_id in list(self.client.rooms):
            if self.is_direct_chat(room_id, user_id):
                return room_id
        resp = await self.client.room_create(invite=[user_id], is_direct=True)
        if not hasattr(resp, "room_id"):
            raise SendError(f"could not open a direct chat with {user_id}: {resp}")
        return str(resp.room_id)
