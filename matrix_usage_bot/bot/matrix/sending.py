"""Sending messages: notices and texts with reply/thread relations, in plain or encrypted rooms.

429s are retried inside nio (see ``bot.matrix.nio_client``). A lost connection is retried here
with the same transaction id, so a message that did reach the server before the
connection dropped is not posted twice (the server deduplicates by transaction id).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from aiohttp import ClientConnectionError
from nio import AsyncClient, ContentRepositoryConfigError, RoomSendError, UploadError

from matrix_usage_bot.bot.matrix.events import message_content
from matrix_usage_bot.tracking.retry import RetryPolicy

log = logging.getLogger(__name__)
T = TypeVar("T")

UPLOAD_LIMIT_TTL = 3600.0
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (ClientConnectionError, TimeoutError, OSError)


class SendError(RuntimeError):
    """The homeserver refused the message, or stayed unreachable for too long."""


class FileTooLarge(SendError):
    """A file larger than the homeserver accepts (``m.upload.size`` of ``/media/config``)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"a file of {size} bytes is over the homeserver's upload limit of {limit} bytes")
        self.size = size
        self.limit = limit


SEND_RETRY = RetryPolicy(1.0, 30.0)


class Sender:
    def __init__(
        self,
        client: AsyncClient,
        *,
        retry_seconds: float = 120.0,
        retry: RetryPolicy = SEND_RETRY,
    ) -> None:
        self.client = client
        self.retry_seconds = retry_seconds
        self.retry = retry
        self._upload_limit: int | None = None
        self._upload_limit_at: float | None = None

    async def send(
        self, room_id: str, content: dict[str, Any], event_type: str = "m.room.message", *, tx_key: str | None = None
    ) -> str:
        """Send one event (encrypted if the room is); returns its event id.

        A client without E2EE would send in plaintext to an encrypted room; that is refused here.

        With ``tx_key`` the transaction id is derived from it, so sending the same thing again (after a
        failure whose outcome was unclear, or a restart) is deduplicated by the homeserver.
        """
        self._refuse_plaintext(room_id)
        tx_id = str(uuid.uuid4()) if tx_key is None else "usage-" + hashlib.sha256(tx_key.encode()).hexdigest()[:40]
        resp = await self._retrying(
            f"sending to {room_id}",
            lambda: self.client.room_send(room_id, event_type, content, tx_id=tx_id, ignore_unverified_devices=True),
        )
        if isinstance(resp, RoomSendError):
            raise SendError(f"sending to {room_id} failed: {resp.status_code} {resp.message}")
        return str(resp.event_id)

    def _refuse_plaintext(self, room_id: str) -> None:
        room = self.client.rooms.get(room_id)
        if room is not None and room.encrypted and self.client.olm is None:
            raise SendError(f"not sent to {room_id}: the room is encrypted and the client has no E2EE")

    async def _retrying(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``, tried again with backoff while the homeserver is unreachable, for ``retry_seconds``.

        A send keeps its transaction id across tries, so a try that did arrive is not doubled.
        """
        backoff = self.retry.start()
        deadline = time.monotonic() + self.retry_seconds
        while True:
            try:
                return await call()
            except CONNECTION_ERRORS as err:
                if time.monotonic() >= deadline:
                    raise SendError(f"homeserver unreachable while {what}: {err}") from err
                delay = backoff.next_delay()
                log.warning("%s failed (%s); retrying in %.1fs", what.capitalize(), err, delay)
                await asyncio.sleep(delay)

    async def notice(
        self,
        room_id: str,
        plain: str,
        html: str | None = None,
        *,
        reply_to: str | None = None,
        thread_root: str | None = None,
        tx_key: str | None = None,
    ) -> str:
        content = message_content("m.notice", plain, html, reply_to=reply_to, thread_root=thread_root)
        return await self.send(room_id, content, tx_key=tx_key)

    async def text(
        self,
        room_id: str,
        plain: str,
        html: str | None = None,
        *,
        mentions: Iterable[str] | None = None,
        reply_to: str | None = None,
        thread_root: str | None = None,
        tx_key: str | None = None,
    ) -> str:
        """An ``m.text`` (it notifies, unlike notices); the bot itself is never mentioned."""
        own = self.client.user_id
        people = None if mentions is None else [u for u in mentions if u != own]
        content = message_content("m.text", plain, html, reply_to=reply_to, thread_root=thread_root, mentions=people)
        return await self.send(room_id, content, tx_key=tx_key)

    async def upload_limit(self) -> int | None:
        """The homeserver's upload limit in bytes (``/_matrix/client/v1/media/config``), None if unknown.

        Asked once an hour at most."""
        now = time.monotonic()
        if self._upload_limit_at is None or now - self._upload_limit_at > UPLOAD_LIMIT_TTL:
            try:
                resp = await self.client.content_repository_config()
            except CONNECTION_ERRORS as err:
                log.warning("Could not read the homeserver's upload limit: %s", err)
                return self._upload_limit
            if isinstance(resp, ContentRepositoryConfigError):
                log.warning("Could not read the homeserver's upload limit: %s", resp.message)
            else:
                self._upload_limit = resp.upload_size
            self._upload_limit_at = now
        return self._upload_limit

    async def upload(self, data: bytes, filename: str, mimetype: str, *, encrypt: bool) -> dict[str, Any]:
        """Upload a file; returns the content keys that point to it: ``url``, or ``file`` when encrypted."""
        limit = await self.upload_limit()
        if limit is not None and len(data) > limit:
            raise FileTooLarge(len(data), limit)
        resp, keys = await self._retrying(
            f"uploading {filename}",
            lambda: self.client.upload(
                lambda *_: data, content_type=mimetype, filename=filename, encrypt=encrypt, filesize=len(data)
            ),
        )
        if isinstance(resp, UploadError):
            if resp.status_code == "M_TOO_LARGE":
                raise FileTooLarge(len(data), limit or len(data) - 1)
            raise SendError(f"uploading {filename} failed: {resp.status_code} {resp.message}")
        if keys is None:
            return {"url": resp.content_uri}
        return {"file": {**keys, "url": resp.content_uri}}

    async def file(
        self,
        room_id: str,
        upload: FileUpload,
        caption: str,
        caption_html: str | None = None,
        *,
        reply_to: str | None = None,
        thread_root: str | None = None,
    ) -> str:
        """Upload and send an ``m.image`` / ``m.file`` (encrypted in encrypted rooms) with a caption."""
        self._refuse_plaintext(room_id)
        room = self.client.rooms.get(room_id)
        encrypted = bool(room is not None and room.encrypted)
        where = await self.upload(upload.data, upload.filename, upload.mimetype, encrypt=encrypted)
        content = message_content(upload.msgtype, caption, caption_html, reply_to=reply_to, thread_root=thread_root)
        info = {"mimetype": upload.mimetype, "size": len(upload.data), **(upload.info or {})}
        content.update(where, filename=upload.filename, info=info)
        return await self.send(room_id, content)


class FileUpload(Protocol):
    """A file to send (``bot.render.answers.Attachment`` fits): ``msgtype`` m.image or m.file,
    ``info`` as in the spec (``w``/``h`` for images; mimetype and size are filled in)."""

    @property
    def filename(self) -> str: ...
    @property
    def mimetype(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def msgtype(self) -> str: ...
    @property
    def info(self) -> Mapping[str, object] | None: ...
