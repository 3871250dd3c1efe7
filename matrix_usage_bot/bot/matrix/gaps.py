"""Filling a cut sync timeline: the events between the previous sync and the start of a ``limited`` timeline.

The standalone host does this before handing a room's events on, so that nothing that happened while
the bot was down (or while a sync lagged behind) is skipped. A host that embeds the plugin decides for
itself whether to fill gaps; the plugin sees what the host's client hands to its event callbacks.
"""

from __future__ import annotations

import logging

from nio import AsyncClient, Event, MessageDirection, RoomMessagesError

from .sending import CONNECTION_ERRORS

log = logging.getLogger(__name__)


async def fill_gap(client: AsyncClient, room_id: str, prev_batch: str, since: str, max_pages: int = 20) -> list[Event]:
    """Events between the previous sync (``since``) and a cut timeline (``prev_batch``), oldest first."""
    found: list[Event] = []
    start: str | None = prev_batch
    for _ in range(max_pages):
        try:
            resp = await client.room_messages(
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
