"""`!usage dashboard` and `!usage dashboard revoke`: the room's dashboard link (README: Dashboard).

The link is bound to the room where it is asked, never to an argument; whoever holds it sees that
room's dashboard until it expires or room admins revoke every link of the room.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from ..render.answers import Answer
from .catalogue import COMMANDS as registry
from .registry import Permission
from .request import Request

if TYPE_CHECKING:
    from ..dashboard.links import DashboardLinks

NOT_SET_UP = Answer.words(
    "The dashboard is not set up: the bot's config needs http.public_url, the address its HTTP server is"
    " reached at (served with http.enabled, or by usage-bot serve on the same store)."
)


def _links(req: Request) -> DashboardLinks | None:
    """The bot's dashboard links, None unless http.public_url is set."""
    links = req.services.dashboard
    return links if links is not None and links.enabled else None


@registry.command("dashboard", help="a link to this room's dashboard (for whoever holds it, until it expires)")
async def dashboard(req: Request) -> Answer:
    if (links := _links(req)) is None:
        return NOT_SET_UP
    link = await links.link(req.room_id)
    until = f"{link.expires.astimezone(req.services.tz):%-d %b %Y %H:%M} ({req.services.tz.key})"
    rest = (f"It works until {until} for whoever holds it: share it only with people who may see this room's"
            f" usage. Room admins end every link of the room with {req.services.prefix} dashboard revoke.")  # fmt: skip
    if link.widget is not None:
        rest += (" The room's Usage widget shows it too." if link.widget
                 else " I could not add it as a widget: my power level here does not allow it.")  # fmt: skip
    plain = f"Dashboard of this room: {link.url}\n{rest}"
    html = (f'<p><a href="{escape(link.url, quote=True)}">Dashboard of this room</a></p>'
            f"<p>{escape(rest)}</p>")  # fmt: skip
    return Answer(plain, html)


@registry.command("dashboard revoke", help="end every dashboard link of this room at once",
                  permission=Permission.ROOM_ADMIN)  # fmt: skip
async def revoke(req: Request) -> Answer:
    if (links := _links(req)) is None:
        return NOT_SET_UP
    removed = await links.revoke(req.room_id)
    text = f"Every dashboard link of this room is revoked; {req.services.prefix} dashboard gives a new one."
    if removed is not None:
        text += " The widget is removed." if removed else " I could not remove the widget: my power level forbids it."
    return Answer.words(text)
