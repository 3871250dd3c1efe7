"""A minimal matrix-nio host bot (its own sync loop, its own `!ping`) that embeds the usage plugin.

The host is written the way any nio bot is: callbacks on an ``AsyncClient`` and ``sync_forever``.
The plugin is attached to that client; nothing of the standalone bot's session is involved.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from genai_prices import Usage, calc_price
from nio import AsyncClient, AsyncClientConfig, InviteMemberEvent, MatrixRoom, RoomMessageText

pytest.importorskip("synapse", reason="the e2e tests need matrix-synapse (the demo extra)")

from matrix_usage_bot.bot import UsagePlugin
from matrix_usage_bot.bot.config import Config

from ...money import shown_usd as dollars
from ..conftest import PASSWORD, WAIT, unique
from ..usage.conftest import agents, db_url, record  # noqa: F401 (fixtures used by the tests here)


@dataclass
class Host:
    """A matrix-nio bot of its own: joins when invited, answers `!ping`, notes every text it reads."""

    client: AsyncClient
    store_path: Path
    plugin: UsagePlugin | None = None
    seen: list[tuple[str, str, str]] = field(default_factory=list)  # (room, event id, body)
    task: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.client.add_event_callback(self.on_text, RoomMessageText)
        self.client.add_event_callback(self.on_invite, InviteMemberEvent)  # type: ignore[arg-type]

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    async def on_text(self, room: MatrixRoom, ev: RoomMessageText) -> None:
        if ev.sender == self.client.user_id:
            return
        self.seen.append((room.room_id, ev.event_id, ev.body))
        if ev.body.strip() == "!ping":
            reply = {"m.in_reply_to": {"event_id": ev.event_id}}
            content = {"msgtype": "m.notice", "body": "pong", "m.relates_to": reply}
            await self.client.room_send(room.room_id, "m.room.message", content, ignore_unverified_devices=True)

    async def on_invite(self, room: MatrixRoom, ev: InviteMemberEvent) -> None:
        if ev.state_key == self.client.user_id and ev.membership == "invite":
            await self.client.join(room.room_id)

    def start(self, sync_filter: dict[str, Any] | None = None) -> None:
        self.task = asyncio.create_task(self.client.sync_forever(30_000, sync_filter, full_state=True))

    async def settle(self) -> None:
        """Returns once every command the plugin has taken so far is answered."""
        assert self.plugin is not None
        while tasks := set(self.plugin.link.timeline.tasks):
            await asyncio.wait(tasks)

    async def stop(self) -> None:
        """The host goes down: the plugin detached, the sync loop ended, the client closed."""
        if self.plugin is not None and self.plugin.attached:
            await self.plugin.detach()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
            self.task = None
        await self.client.close()


@pytest.fixture
async def make_host(synapse, tmp_path: Path, db_url: str) -> AsyncIterator[Callable[..., Awaitable[Host]]]:  # noqa: F811
    """A started host bot with the plugin attached (``plugin=False``: without it).

    ``user`` (user id, device id) restarts an existing host's account; ``store`` is its nio store
    (a new folder: no sync token, the whole timeline comes again as history).
    """
    hosts: list[Host] = []

    async def make(*, user: tuple[str, str] | None = None, store: Path | None = None, e2ee: bool = True,
                   plugin: bool = True, db: str | None = None, sync_filter: dict[str, Any] | None = None,
                   clock: Any = None, **sections: Any) -> Host:  # fmt: skip
        if user is None:
            user_id, _ = await synapse.aregister_user(unique("hostbot"), PASSWORD)
            user = (user_id, "")
        store = store or tmp_path / "hosts" / unique("store")
        store.mkdir(parents=True, exist_ok=True)
        config = AsyncClientConfig(encryption_enabled=e2ee, store_sync_tokens=True)
        client = AsyncClient(synapse.base_url, user[0], device_id=user[1] or None, store_path=str(store), config=config)
        resp = await client.login(PASSWORD, device_name="host")
        assert client.logged_in, resp
        host = Host(client, store)
        hosts.append(host)
        if plugin:
            await attach_plugin(host, db or db_url, clock=clock, **sections)
        host.start(sync_filter)
        return host

    yield make
    for host in hosts:
        await host.stop()


def price(model: str, **usage: int) -> Decimal:
    """What genai-prices says an OpenAI call costs, worked out apart from the store's own sums."""
    return calc_price(Usage(**usage), model, provider_id="openai").total_price


async def attach_plugin(host: Host, db: str, *, clock: Any = None, **sections: Any) -> UsagePlugin:
    """A plugin from a config without a ``matrix`` section, attached to the host's client."""
    sections.setdefault("bot", {"timezone": "Europe/Berlin"})
    config = Config.model_validate({"storage": {"url": db}, **sections})
    host.plugin = UsagePlugin.from_config(config, clock=clock, watch_interval=0.2)
    await host.plugin.attach(host.client)
    return host.plugin


async def wait_log(caplog: Any, text: str) -> None:
    """Returns once a log record contains ``text`` (WAIT seconds at most)."""
    for _ in range(int(WAIT * 10)):
        if any(text in r.getMessage() for r in caplog.records):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no log line with {text!r}")


async def ask(user: Any, host: Host, room: str, body: str, thread_root: str | None = None) -> Any:
    """Send a command and return the host's answer to it."""
    event_id = await user.say(room, body, thread_root=thread_root)
    return await user.wait_reply(room, event_id, host.user_id, timeout=WAIT)


def replies_to(user: Any, room: str, event_id: str, sender: str | None = None) -> list[Any]:
    """The answers to ``event_id`` among what ``user`` has synced (decrypted in encrypted rooms)."""
    found = []
    for r, ev in user.seen:
        rel = ev.source.get("content", {}).get("m.relates_to") or {}
        if r == room and (rel.get("m.in_reply_to") or {}).get("event_id") == event_id:
            if sender is None or ev.sender == sender:
                found.append(ev)
    return found


__all__ = ["Host", "ask", "attach_plugin", "dollars", "price", "record", "replies_to", "wait_log"]
