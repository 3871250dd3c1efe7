"""Sending messages: notices and texts with reply/thread relations, in plain or encrypted rooms.

429s are retried inside nio (see ``bot.nio_client``). A lost connection is retried here
with the same transaction id, so a message that did reach the server before the
connection dropped is not posted twice (the server deduplicates by transaction id).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientConnectionError
from nio import AsyncClient, RoomSendError

from bot.matrix_events import message_content

log = logging.getLogger(__name__)

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (ClientConnectionError, TimeoutError, OSError)


class SendError(RuntimeError):
    """The homeserver refused the message, or stayed unreachable for too long."""


@dataclass
class Backoff:
    """Capped exponential backoff with "equal jitter" (half fixed, half random)."""

    initial: float = 1.0
    maximum: float = 60.0
    factor: float = 2.0
    attempt: int = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * self.factor ** min(self.attempt, 32))
        self.attempt += 1
        return delay / 2 + random.uniform(0, delay / 2)

    def reset(self) -> None:
        self.attempt = 0


class Sender:
    def __init__(
        self,
        client: AsyncClient,
        *,
        retry_seconds: float = 120.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
    ) -> None:
        self.client = client
        self.retry_seconds = retry_seconds
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max

    async def send(self, room_id: str, content: dict[str, Any], event_type: str = "m.room.message") -> str:
        """Send one event (encrypted if the room is); returns its event id."""
        tx_id = str(uuid.uuid4())
        backoff = Backoff(self.backoff_initial, self.backoff_max)
        deadline = time.monotonic() + self.retry_seconds
        while True:
            try:
                resp = await self.client.room_send(
                    room_id, event_type, content, tx_id=tx_id, ignore_unverified_devices=True
                )
            except CONNECTION_ERRORS as err:
                if time.monotonic() >= deadline:
                    raise SendError(f"homeserver unreachable while sending to {room_id}: {err}") from err
                delay = backoff.next_delay()
                log.warning("Sending to %s failed (%s); retrying in %.1fs", room_id, err, delay)
                await asyncio.sleep(delay)
                continue
            if isinstance(resp, RoomSendError):
                raise SendError(f"sending to {room_id} failed: {resp.status_code} {resp.message}")
            return str(resp.event_id)

    async def notice(
        self,
        room_id: str,
        plain: str,
        html: str | None = None,
        *,
        reply_to: str | None = None,
        thread_root: str | None = None,
    ) -> str:
        content = message_content("m.notice", plain, html, reply_to=reply_to, thread_root=thread_root)
        return await self.send(room_id, content)

    async def text(
        self,
        room_id: str,
        plain: str,
        html: str | None = None,
        *,
        mentions: Iterable[str] | None = None,
        reply_to: str | None = None,
        thread_root: str | None = None,
    ) -> str:
        """An ``m.text`` (it notifies, unlike notices); the bot itself is never mentioned."""
        own = self.client.user_id
        people = None if mentions is None else [u for u in mentions if u != own]
        content = message_content("m.text", plain, html, reply_to=reply_to, thread_root=thread_root, mentions=people)
        return await self.send(room_id, content)
