"""`!usage digest on [HH:MM]|off|now`: the room's daily digest (README: Running the bot)."""

from __future__ import annotations

import re

from ..render.answers import Answer
from .catalogue import COMMANDS as registry
from .registry import Arg, Permission
from .request import Request


def _hhmm(token: str) -> str:
    if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", token):
        raise ValueError(f"{token!r} is not a time like 09:00 (24-hour clock)")
    hour, minute = token.split(":")
    return f"{int(hour):02d}:{minute}"


@registry.command("digest on", help="post a daily digest here at HH:MM (the configured default if omitted)",
                  args=[Arg("at", "HH:MM", _hhmm, optional=True)], permission=Permission.ROOM_ADMIN)  # fmt: skip
async def digest_on(req: Request, at: str | None) -> Answer:
    at = await req.services.digests.enable(req.room_id, at)
    text = f"Daily digest on: every day at {at} ({req.services.tz.key}), covering the day before."
    return Answer.words(text)


@registry.command("digest off", help="stop the daily digest in this room", permission=Permission.ROOM_ADMIN)
async def digest_off(req: Request) -> Answer:
    await req.services.digests.disable(req.room_id)
    return Answer.words("Daily digest off.")


@registry.command("digest now", help="post yesterday's digest now")
async def digest_now(req: Request) -> Answer:
    return await req.services.digests.build(req.room_id)
