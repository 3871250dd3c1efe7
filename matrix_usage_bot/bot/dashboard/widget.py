"""The dashboard as a room widget (`im.vector.modular.widgets`), which Element shows beside the timeline.

The state event's content is Element's: `type` (`m.custom`), `url`, `name`, `data`, `id`,
`creatorUserId`, `waitForIframeLoad`; its state key is the widget's id, and empty content removes
it. The bot adds it only where its power level allows sending that state event.
"""

from __future__ import annotations

import logging

from nio import AsyncClient, RoomPutStateError

from ..matrix.events import own_user_id
from ..matrix.permissions import RoomAdminCache, required_level, room_creators, user_level

log = logging.getLogger(__name__)

WIDGET_EVENT = "im.vector.modular.widgets"
WIDGET_ID = "usage-dashboard"
WIDGET_NAME = "Usage"


class RoomWidget:
    def __init__(self, client: AsyncClient, power: RoomAdminCache) -> None:
        self.client = client
        self.power = power

    async def allowed(self, room_id: str) -> bool:
        """Whether the bot's power level reaches the level needed to send the widget's state event."""
        state = await self.power.state(room_id)
        creators = room_creators(state.create_content, state.create_sender, state.room_version)
        level = user_level(own_user_id(self.client), state.power_levels, creators, state.room_version)
        return level >= required_level(state.power_levels, WIDGET_EVENT)

    async def _put(self, room_id: str, content: dict[str, object]) -> bool:
        resp = await self.client.room_put_state(room_id, WIDGET_EVENT, content, state_key=WIDGET_ID)
        if isinstance(resp, RoomPutStateError):
            log.warning("the dashboard widget in %s was not changed: %s", room_id, resp.status_code)
            return False
        return True

    async def put(self, room_id: str, url: str) -> bool:
        """Add (or point anew) the room's dashboard widget at `url`; False where the bot may not."""
        if not await self.allowed(room_id):
            return False
        content = {
            "type": "m.custom", "url": url, "name": WIDGET_NAME, "id": WIDGET_ID,
            "data": {"title": "LLM usage of this room"}, "creatorUserId": own_user_id(self.client),
            "waitForIframeLoad": True,
        }  # fmt: skip
        return await self._put(room_id, content)

    async def remove(self, room_id: str) -> bool:
        """Take the widget out of the room (empty content), where the bot may."""
        return await self.allowed(room_id) and await self._put(room_id, {})
