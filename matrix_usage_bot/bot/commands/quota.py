"""`!usage quota`: this room's quotas and their use; room admins set and clear them (README: Running the bot)."""

from __future__ import annotations

import re

from matrix_usage_bot.tracking.amounts import Amount, parse_amount
from matrix_usage_bot.tracking.store import QuotaRow
from matrix_usage_bot.tracking.validation import MATRIX_ID

from ..render.answers import Answer
from ..render.quotas import everywhere_answer, quota_answer, used_of_limit
from .args import choice
from .catalogue import COMMANDS as registry
from .registry import Arg, Permission
from .request import Request

WINDOW = choice("window", ("hourly", "daily", "monthly"), optional=False)
UNIT = choice("unit", ("tokens", "usd"), optional=False)
AMOUNT = Arg("amount", "AMOUNT", parse_amount)
HARD = choice("hard", ("hard",))


def user_id(token: str) -> str:
    if not re.fullmatch(r"@[^:\s]+:\S+", token):
        raise ValueError(f"{token!r} is not a user id like @alice:example.org")
    return token


def agent_name(token: str) -> str:
    if len(token) > MATRIX_ID:
        raise ValueError(f"agent names are at most {MATRIX_ID} characters")
    return token


AGENT = Arg("name", "NAME", agent_name)
USER = Arg("name", "@ID", user_id)


@registry.command("quota", help="this room's quotas and how much of each is used")
async def show(req: Request) -> Answer:
    """Quotas counted across all rooms show every room's usage: in a shared room they are only counted;
    in a direct chat a bot admin sees them all, anyone else their own."""
    book = req.services.quotas
    plan = await book.room_plan(req.room_id)
    here = await book.statuses(req.rooms)
    now = book.clock()
    if not req.is_direct:
        return quota_answer(here, plan=plan, everywhere_count=len(await book.everywhere()), now=now)
    if req.is_bot_admin:
        everywhere = everywhere_answer(await book.everywhere_statuses(), for_admin=True, now=now)
    else:
        own = [s for s in await book.everywhere_statuses(req.sender) if s.quota.scope == "user"]
        everywhere = everywhere_answer(own, for_admin=False, now=now)
    return quota_answer(here, plan=plan, now=now).then(everywhere)


async def set_here(req: Request, scope: str, name: str, window: str, amount: Amount, hard: str | None,
                   place: str | None = None) -> Answer:  # fmt: skip
    row = QuotaRow(place or req.room_id, scope, name, window, amount.unit, str(amount.value), hard == "hard", False)
    await req.services.store.set_quota(row, req.sender)
    req.services.on_quota_change()
    book = req.services.quotas
    quotas = await book.for_room(req.rooms) if place is None else await book.everywhere()
    quota = next(q for q in quotas if (q.scope, q.name, q.window, q.amount.unit) == (scope, name, window, amount.unit))
    status = await book.status(quota, req.rooms)
    kind = "hard" if row.hard else "soft"
    return Answer.words(f"Set {quota.describe()} ({kind}); used so far: {used_of_limit(status)}.")


async def clear_here(req: Request, scope: str, name: str, window: str, unit: str, place: str | None = None) -> Answer:
    book = req.services.quotas
    quotas = await book.for_room(req.rooms) if place is None else await book.everywhere()
    found = [q for q in quotas if (q.scope, q.name, q.window, q.amount.unit) == (scope, name, window, unit)]
    where = "in this room" if place is None else "across all rooms"
    if not found:
        return Answer.words(f"There is no such quota {where}; see !usage quota.")
    row = QuotaRow(place or req.room_id, scope, name, window, unit, "0", False, True)
    await req.services.store.set_quota(row, req.sender)
    req.services.on_quota_change()
    return Answer.words(f"Cleared {found[0].describe()} {where}.")


@registry.command("quota set room", help="set this room's budget: AMOUNT is tokens (200k, 1.5m) or dollars ($50)",
                  args=[WINDOW, AMOUNT, HARD], permission=Permission.ROOM_ADMIN)  # fmt: skip
async def set_room(req: Request, window: str, amount: Amount, hard: str | None) -> Answer:
    return await set_here(req, "room", "", window, amount, hard)


@registry.command("quota set agent", help="set an agent's budget in this room",
                  args=[AGENT, WINDOW, AMOUNT, HARD], permission=Permission.ROOM_ADMIN)  # fmt: skip
async def set_agent(req: Request, name: str, window: str, amount: Amount, hard: str | None) -> Answer:
    return await set_here(req, "agent", name, window, amount, hard)


@registry.command("quota set user", help="set a person's budget in this room",
                  args=[USER, WINDOW, AMOUNT, HARD], permission=Permission.ROOM_ADMIN)  # fmt: skip
async def set_user(req: Request, name: str, window: str, amount: Amount, hard: str | None) -> Answer:
    return await set_here(req, "user", name, window, amount, hard)


@registry.command("quota clear room", help="remove this room's budget in that unit", args=[WINDOW, UNIT],
                  permission=Permission.ROOM_ADMIN)  # fmt: skip
async def clear_room(req: Request, window: str, unit: str) -> Answer:
    return await clear_here(req, "room", "", window, unit)


@registry.command("quota clear agent", help="remove an agent's budget in this room", args=[AGENT, WINDOW, UNIT],
                  permission=Permission.ROOM_ADMIN)  # fmt: skip
async def clear_agent(req: Request, name: str, window: str, unit: str) -> Answer:
    return await clear_here(req, "agent", name, window, unit)


@registry.command("quota clear user", help="remove a person's budget in this room", args=[USER, WINDOW, UNIT],
                  permission=Permission.ROOM_ADMIN)  # fmt: skip
async def clear_user(req: Request, name: str, window: str, unit: str) -> Answer:
    return await clear_here(req, "user", name, window, unit)
