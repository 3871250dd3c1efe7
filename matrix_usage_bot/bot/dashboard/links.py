"""What `!usage dashboard` hands out: links to the room's page, their revocation, and the widget."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from matrix_usage_bot.tracking.store import Store

from .settings import DashboardSettings
from .tokens import DashboardTokens
from .widget import RoomWidget


@dataclass(frozen=True)
class Link:
    url: str
    expires: datetime
    widget: bool | None
    """True: the room's widget now shows the page; False: the bot may not add it; None: not asked to."""


class DashboardLinks:
    """`public_url` is where users reach the HTTP server; None leaves the dashboard off."""

    def __init__(self, store: Store, settings: DashboardSettings, public_url: str | None,
                 widget: RoomWidget | None = None, clock: Callable[[], datetime] | None = None) -> None:  # fmt: skip
        self.tokens = DashboardTokens(store, clock)
        self.settings = settings
        self.public_url = public_url
        self.widget = widget if settings.widget else None

    @property
    def enabled(self) -> bool:
        return self.public_url is not None

    def url(self, token: str) -> str:
        """The page with the token in the fragment: browsers keep it from servers, proxies and Referers."""
        return f"{self.public_url}/dashboard/#token={token}"

    async def link(self, room_id: str) -> Link:
        """A new link for the room; with the widget on, the room's widget shows the same link."""
        token, expires = await self.tokens.issue(room_id, self.settings.link_ttl)
        url = self.url(token)
        return Link(url, expires, None if self.widget is None else await self.widget.put(room_id, url))

    async def revoke(self, room_id: str) -> bool | None:
        """End every link of the room (the widget's too) at once; returns whether the widget was removed."""
        await self.tokens.revoke(room_id)
        return None if self.widget is None else await self.widget.remove(room_id)
