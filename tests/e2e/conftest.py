"""Fixtures for the end-to-end tests: one real Synapse per session, real nio users, real bots.

Nothing here sleeps for timing: users sync until the event they expect arrives, and the
bot-side recorder wakes waiters through an ``asyncio.Condition``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    RoomCreateError,
    RoomSendResponse,
    SyncResponse,
)

from matrix_usage_bot.bot.demo.homeserver import LocalSynapse
from matrix_usage_bot.bot.matrix.events import CommandContext, SimpleMatrixSettings
from matrix_usage_bot.bot.matrix.link import MatrixLink
from matrix_usage_bot.bot.matrix.outbox import Outbox
from matrix_usage_bot.bot.matrix.permissions import RoomAdminCache
from matrix_usage_bot.bot.matrix.session import MatrixSession, exchange_keys
from matrix_usage_bot.bot.state import BotState
from matrix_usage_bot.tracking.retry import RetryPolicy
from matrix_usage_bot.tracking.store import Store, open_store

if importlib.util.find_spec("synapse") is None:  # the demo extra is not installed
    collect_ignore_glob = ["test_*.py"]

WAIT = 30.0
# A large timeline limit, so a test that sends many messages sees every reply (no gappy syncs).
USER_SYNC_FILTER = {"room": {"timeline": {"limit": 1000}}}
PASSWORD = "correct horse battery staple"
_names = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}{next(_names)}x{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def synapse() -> Iterator[LocalSynapse]:
    started = time.monotonic()
    with LocalSynapse() as hs:
        print(f"\nSynapse {hs.base_url} ready in {time.monotonic() - started:.2f}s")
        yield hs


EventPredicate = Callable[[str, Any], bool]


def replies_to(ev: Any, event_id: str, sender: str) -> bool:
    """Whether ``ev`` is a message from ``sender`` replying to ``event_id``."""
    relation = ev.source.get("content", {}).get("m.relates_to") or {}
    return bool(ev.sender == sender and (relation.get("m.in_reply_to") or {}).get("event_id") == event_id)


class MatrixUser:
    """A person with a real nio client (E2EE enabled), driven explicitly by the test."""

    def __init__(self, hs: LocalSynapse, client: AsyncClient) -> None:
        self.hs = hs
        self.client = client
        self.seen: list[tuple[str, Any]] = []

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    @property
    def token(self) -> str:
        return str(self.client.access_token)

    async def sync(self, timeout_ms: int = 0) -> None:
        resp = await self.client.sync(timeout=timeout_ms, sync_filter=USER_SYNC_FILTER)
        assert isinstance(resp, SyncResponse), resp
        for room_id, info in resp.rooms.join.items():
            self.seen.extend((room_id, ev) for ev in info.timeline.events)
        await exchange_keys(self.client)

    async def wait_for(self, predicate: EventPredicate, timeout: float = WAIT) -> Any:
        """Sync until an event (in any joined room, seen before or now) matches; return it."""
        deadline = time.monotonic() + timeout
        while True:
            for room_id, ev in self.seen:
                if predicate(room_id, ev):
                    return ev
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.user_id}: no matching event within {timeout}s")
            await self.sync(timeout_ms=1000)

    async def wait_devices(self, user_id: str, timeout: float = WAIT) -> None:
        """Sync until this client knows a device of ``user_id``: a message encrypted before then is sealed for
        none of theirs, and they cannot read it (nio shares the room key with the devices it knows)."""
        deadline = time.monotonic() + timeout
        while not list(self.client.device_store.active_user_devices(user_id)):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.user_id}: no device of {user_id} known within {timeout}s")
            await self.sync(timeout_ms=200)

    async def create_room(
        self,
        invite: list[str] | None = None,
        *,
        encrypted: bool = False,
        room_version: str | None = None,
        public: bool = False,
        power_level_override: dict[str, Any] | None = None,
    ) -> str:
        from nio import RoomPreset

        state = []
        if encrypted:
            state.append(
                {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
            )
        resp = await self.client.room_create(
            invite=invite or [],
            initial_state=state,
            room_version=room_version,
            preset=RoomPreset.public_chat if public else RoomPreset.private_chat,
            power_level_override=power_level_override,
        )
        assert not isinstance(resp, RoomCreateError), resp
        await self.sync()
        return str(resp.room_id)

    async def join(self, room_id: str) -> None:
        await self.client.join(room_id)
        await self.sync()

    async def send(self, room_id: str, content: dict[str, Any]) -> str:
        resp = await self.client.room_send(room_id, "m.room.message", content, ignore_unverified_devices=True)
        assert isinstance(resp, RoomSendResponse), resp
        return str(resp.event_id)

    async def say(self, room_id: str, body: str, *, thread_root: str | None = None, msgtype: str = "m.text") -> str:
        content: dict[str, Any] = {"msgtype": msgtype, "body": body}
        if thread_root:
            content["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": thread_root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": thread_root},
            }
        return await self.send(room_id, content)

    async def wait_membership(self, room_id: str, user_id: str, membership: str) -> Any:
        return await self.wait_for(
            lambda r, ev: (
                r == room_id
                and ev.source.get("type") == "m.room.member"
                and ev.source.get("state_key") == user_id
                and ev.source.get("content", {}).get("membership") == membership
            )
        )

    async def wait_reply(self, room_id: str, command_event_id: str, sender: str, timeout: float = WAIT) -> Any:
        """The bot's answer to a command: a message from ``sender`` replying to it."""

        return await self.wait_for(lambda r, ev: r == room_id and replies_to(ev, command_event_id, sender), timeout)

    async def room_with(self, bot: BotHandle, *, others: list[MatrixUser] | None = None, **room_kwargs: Any) -> str:
        """Create a room, invite the bot (and ``others``, who join) and wait for the bot to join."""
        invite = [bot.user_id] + [o.user_id for o in others or []]
        room_id = await self.create_room(invite, **room_kwargs)
        for other in others or []:
            await other.join(room_id)
        await self.wait_membership(room_id, bot.user_id, "join")
        return room_id

    async def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(self.hs.admin_request, method, path, self.token, body)


@pytest.fixture
async def make_user(synapse: LocalSynapse, tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[MatrixUser]]]:
    users: list[MatrixUser] = []

    async def make(prefix: str = "user", *, admin: bool = False) -> MatrixUser:
        localpart = unique(prefix)
        user_id, _ = await synapse.aregister_user(localpart, PASSWORD, admin=admin)
        store = tmp_path / "users" / localpart
        store.mkdir(parents=True)
        client = AsyncClient(
            synapse.base_url,
            user_id,
            store_path=str(store),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True),
        )
        resp = await client.login(PASSWORD, device_name="e2e")
        assert client.logged_in, resp
        user = MatrixUser(synapse, client)
        await user.sync()
        users.append(user)
        return user

    yield make
    for user in users:
        await user.client.close()


@dataclass
class Recorder:
    """The bot's callbacks in tests: records everything and answers commands with a notice."""

    commands: list[CommandContext] = field(default_factory=list)
    contents: list[tuple[str, str, str, dict[str, Any], int]] = field(default_factory=list)
    upgrades: list[tuple[str, str]] = field(default_factory=list)
    outbox: Outbox | None = None
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def _note(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def on_command(self, ctx: CommandContext) -> None:
        self.commands.append(ctx)
        await self._note()
        if ctx.body.strip() == "!usage boom":
            raise RuntimeError("boom (raised on purpose by the test)")
        assert self.outbox is not None
        await self.outbox.reply(ctx, f"answer to {ctx.body}", f"<b>answer</b> to {ctx.body}")

    async def on_message_content(
        self, room_id: str, event_id: str, sender: str, content: dict[str, Any], ts: int
    ) -> None:
        self.contents.append((room_id, event_id, sender, content, ts))
        await self._note()

    async def on_room_upgraded(self, old: str, new: str) -> None:
        self.upgrades.append((old, new))
        await self._note()

    async def wait_until(self, check: Callable[[], bool], timeout: float = WAIT) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(check), timeout)

    def bodies(self) -> list[str]:
        return [c.body for c in self.commands]


@dataclass
class BotHandle:
    """The standalone host (``session``) with the plugin's Matrix side (``link``) answering for ``recorder``."""

    session: MatrixSession
    link: MatrixLink
    recorder: Recorder
    task: asyncio.Task[None]
    settings: SimpleMatrixSettings
    store: Store

    @property
    def user_id(self) -> str:
        return self.session.user_id

    @property
    def client(self) -> AsyncClient:
        return self.session.client

    @property
    def outbox(self) -> Outbox:
        return self.link.outbox

    @property
    def admins(self) -> RoomAdminCache:
        return self.link.admins

    @property
    def state(self) -> BotState:
        return self.link.state

    async def stop(self) -> None:
        try:
            await self.session.stop()
            await self.task
            await self.link.detach()
            await self.session.close()
        finally:
            await self.store.close()


@pytest.fixture
async def make_bot(synapse: LocalSynapse, tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[BotHandle]]]:
    """Start a ``MatrixSession`` (own user unless ``settings`` is given) running ``run_forever``, with the
    plugin's command handling attached to its client and answering for a ``Recorder``."""
    handles: list[BotHandle] = []

    async def make(
        *,
        allowed_inviters: list[str] | None = None,
        settings: SimpleMatrixSettings | None = None,
        recorder: Recorder | None = None,
        grace_seconds: int = 300,
        **kwargs: Any,
    ) -> BotHandle:
        if settings is None:
            localpart = unique("usagebot")
            user_id, _ = await synapse.aregister_user(localpart, PASSWORD)
            settings = SimpleMatrixSettings(
                homeserver=synapse.base_url,
                user_id=user_id,
                password=PASSWORD,
                store_path=tmp_path / "bots" / localpart,
                allowed_inviters=allowed_inviters or [],
            )
        recorder = recorder or Recorder()
        kwargs.setdefault("retry", RetryPolicy(0.2, 2.0))
        store = await open_store(f"sqlite:///{Path(settings.store_path) / 'usage.db'}")
        session = MatrixSession(settings, **kwargs)
        link = MatrixLink(
            session.client,
            await BotState.load(store),
            grace_seconds=grace_seconds,
            on_command=recorder.on_command,
            on_message_content=recorder.on_message_content,
            on_room_upgraded=recorder.on_room_upgraded,
            retry=kwargs["retry"],
        )
        recorder.outbox = link.outbox
        link.attach()
        task = asyncio.create_task(session.run_forever())
        ready = asyncio.create_task(session.ready.wait())
        await asyncio.wait({task, ready}, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        assert session.ready.is_set(), "bot did not become ready"
        handle = BotHandle(session, link, recorder, task, settings, store)
        handles.append(handle)
        return handle

    yield make
    for handle in handles:
        if not handle.task.done():
            await handle.stop()
        else:
            await handle.store.close()
