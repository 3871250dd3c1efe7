"""Everything the plugin builds on a host's nio client, in one object handed to its features.

The host's client stays the host's: it logs in, syncs, keeps the E2EE keys and the sync token, and
joins rooms. On it the plugin builds ``timeline`` (event callbacks: commands once, joins, upgrades),
``rooms`` (what it knows of the host's rooms), ``outbox`` (everything it posts, one retry policy) and
``admins`` (room admins from power levels). The standalone bot builds the same on its own client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from nio import AsyncClient

from matrix_usage_bot.tracking.retry import RetryPolicy

from ..state import BotState
from .events import own_user_id
from .outbox import Outbox
from .permissions import RoomAdminCache
from .rooms import JoinHandler, Rooms, UpgradeHandler
from .sending import SEND_RETRY, Sender
from .timeline import CommandHandler, ContentHandler, Timeline


class MatrixLink:
    def __init__(
        self,
        client: AsyncClient,
        state: BotState,
        *,
        command_prefix: str = "!usage",
        grace_seconds: int = 300,
        responders: Sequence[str] = (),
        on_command: CommandHandler | None = None,
        on_message_content: ContentHandler | None = None,
        on_room_upgraded: UpgradeHandler | None = None,
        on_joined: JoinHandler | None = None,
        max_concurrent_commands: int = 4,
        retry: RetryPolicy = SEND_RETRY,
    ) -> None:
        if not own_user_id(client).startswith("@"):
            raise ValueError("the nio client has no user id: log it in (or restore_login) before attaching")
        self.client = client
        self.state = state
        self.admins = RoomAdminCache(client)
        self.synced = asyncio.Condition()
        self.outbox = Outbox(client, Sender(client, retry=retry),
                             self.synced)  # fmt: skip
        self.rooms = Rooms(client, state, on_room_upgraded=on_room_upgraded, on_joined=on_joined, responders=responders)
        self.timeline = Timeline(
            client, self.rooms, state, self.outbox, self.synced, command_prefix=command_prefix,
            grace_ms=grace_seconds * 1000, on_command=on_command, on_message_content=on_message_content,
            max_concurrent_commands=max_concurrent_commands,
        )  # fmt: skip

    @property
    def user_id(self) -> str:
        return own_user_id(self.client)

    def attach(self) -> None:
        self.timeline.attach()

    async def detach(self, drain_timeout: float = 30.0) -> None:
        await self.timeline.detach(drain_timeout)

    async def first_sync(self) -> None:
        """Returns once the host's client has synced at least once (it may have before we attached)."""
        while not (self.client.next_batch or self.client.rooms):
            try:
                async with self.synced:
                    await asyncio.wait_for(self.synced.wait(), 1.0)
            except TimeoutError:
                pass
