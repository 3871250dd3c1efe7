"""nio's ``AsyncClient`` with the three things the standalone bot needs beyond it.

- 429 handling: nio already sleeps and retries on ``M_LIMIT_EXCEEDED`` but reads only
  ``retry_after_ms`` from the body (and falls back to 5 s). Since Matrix v1.10 servers may
  send only a ``Retry-After`` header, so the header fills in ``retry_after_ms`` when the
  body has none; nio's retry loop then waits as told, for every request.
- joining by room id with ``via`` servers: room version 12 ids carry no server name, so
  following a tombstone to a room on another server needs a hint.
- held event callbacks: nio runs the event callbacks (the plugin's among them) while it handles a
  sync, before the caller sees the response. The standalone host first fills a cut timeline from
  ``/messages``, so it holds the callbacks during ``sync()`` and runs them afterwards, older events
  first: the plugin then sees every room's events in timeline order, gaps included.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from aiohttp import ClientResponse
from nio import Api, AsyncClient, ErrorResponse, Event, JoinError, JoinResponse, MatrixRoom, Response

from matrix_usage_bot.bot.matrix.events import parse_retry_after

log = logging.getLogger(__name__)


class RateLimitAwareClient(AsyncClient):
    _held: list[tuple[MatrixRoom, Event]] | None = None

    async def create_matrix_response(
        self,
        response_class: type,
        transport_response: ClientResponse,
        data: tuple[Any, ...] | None = None,
        save_to: os.PathLike[str] | None = None,
    ) -> Response:
        resp = await super().create_matrix_response(response_class, transport_response, data, save_to)
        if transport_response.status == 429 and isinstance(resp, ErrorResponse):
            if not resp.retry_after_ms:
                resp.retry_after_ms = parse_retry_after(transport_response.headers.get("Retry-After"))
            log.info(
                "Rate limited by the homeserver (%s); retrying after %s ms",
                transport_response.url.path,
                resp.retry_after_ms or "5000 (default)",
            )
        return resp

    async def join_via(self, room_id: str, servers: list[str]) -> JoinResponse | JoinError:
        if not servers:
            return await self.join(room_id)
        query = {"access_token": self.access_token, "via": servers[0], "server_name": servers[0]}
        path = Api._build_path(["join", room_id], query)
        return await self._send(JoinResponse, "POST", path, "{}")  # type: ignore[no-any-return]

    def hold_events(self) -> None:
        """From now on, keep the events nio would hand to the event callbacks (see ``release_events``)."""
        self._held = []

    def release_events(self) -> list[tuple[MatrixRoom, Event]]:
        """The events held since ``hold_events``, in the order nio saw them; callbacks run at once again."""
        held, self._held = self._held or [], None
        return held

    async def run_event_callbacks(self, room: MatrixRoom, event: Event) -> None:
        """Hand one event to every event callback, as nio does during a sync."""
        await super()._on_event(event, room)

    async def _on_event(self, event: Event, room: MatrixRoom) -> None:
        # nio's hook between a sync's timeline and the event callbacks (nio 0.25 and 0.26)
        if self._held is not None:
            self._held.append((room, event))
            return
        await super()._on_event(event, room)
