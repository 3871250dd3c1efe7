"""`!usage me export` and `!usage forget me` (README: Data rights): a person's own data, in a direct chat with the bot.

Both act on the sender and nobody else (bot admins erase others with `usage-bot forget --user`), and only in a
direct chat, where nobody else reads the answer.
"""

from __future__ import annotations

from html import escape

from matrix_usage_bot.tracking.store import another_connection
from matrix_usage_bot.tracking.store.forget import Erasure

from ..render.answers import Answer
from ..render.rights import UNREACHABLE, YOU, config_mentions, erasure_text
from .args import PERIOD
from .catalogue import COMMANDS as registry
from .files import events_file
from .request import Request

ONLY_HERE = Answer.words("Your own data is for a direct chat with me: ask me there, where nobody else reads it.")


def _answer(*lines: str | None) -> Answer:
    shown = [line for line in lines if line]
    return Answer(" ".join(shown), "".join(f"<p>{escape(line)}</p>" for line in shown))


@registry.command("me export", help="your own events in every room, as a CSV file (in a direct chat; default: all)",
                  args=[PERIOD])  # fmt: skip
async def my_export(req: Request, period: str | None) -> Answer:
    if not req.is_direct:
        return ONLY_HERE
    return await events_file(req, req.period(period, "all"), "by you in all rooms", user_id=req.sender)


@registry.command("forget me", help="erase you from the usage store: says what goes and asks you to confirm "
                  "(in a direct chat)")  # fmt: skip
async def forget_me(req: Request) -> Answer:
    if not req.is_direct:
        return ONLY_HERE
    preview = await req.services.store.preview_forget(req.sender)
    plan = _config_note(req)
    if preview == Erasure():
        return _answer(erasure_text("you", preview, done=False), plan)
    confirm = f"To erase, send: {req.services.prefix} forget me confirm"
    return _answer(erasure_text("you", preview, done=False, person=YOU), plan, UNREACHABLE, confirm)


@registry.command("forget me confirm", help="erase you from the usage store now (in a direct chat)")
async def forget_me_confirm(req: Request) -> Answer:
    if not req.is_direct:
        return ONLY_HERE
    async with another_connection(req.services.store) as store:  # the bot's readers see it whole, once done
        done = await store.forget_user(req.sender)
    req.services.on_quota_change()
    return _answer(erasure_text("you", done, done=True, person=YOU), _config_note(req), UNREACHABLE)


def _config_note(req: Request) -> str | None:
    quotas = req.services.quotas
    return config_mentions(quotas.settings if quotas is not None else None, req.sender, YOU)
