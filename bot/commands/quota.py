"""`!usage quota`: show this room's quotas; room admins set and clear them (SPEC sections 6 and 7)."""

from __future__ import annotations

import re

from tracking.amounts import Amount, parse_amount
from tracking.store import QuotaRow

from ..render.answers import Answer
from ..render.quotas import quota_answer, used_of_limit
from .args import choice
from .catalogue import COMMANDS as registry
from .registry import Arg, Permission
from .request import Request

WINDOW = choice("window", ("daily", "monthly"), optional=False)
AMOUNT = Arg("amount", "AMOUNT", parse_amount)
HARD = choice("hard", ("hard",))


def _user_id(token: str) -> str:
    if not re.fullmatch(r"@[^:\s]+:\S+", token):
        raise ValueError(f"{token!r} is not a user id like @alice:example.org")
    return token


def _agent(token: str) -> str:
    if len(token) > 255:
        raise ValueError("agent names are at most 255 characters")
    return token


AGENT = Arg("name", "NAME", _agent)
USER = Arg("name", "@ID", _user_id)


@registry.command("quota", help="this room's quotas and how much of each is used")
async def show(req: Request) -> Answer:
    """A global quota's use is every room's usage: only bot admins see its figures."""
    statuses = await req.services.quotas.statuses(req.rooms)
    hidden = 0 if req.is_bot_admin else sum(s.quota.scope == "global" for s in statuses)
    shown = [s for s in statuses if req.is_bot_admin or s.quota.scope != "global"]
    return quota_answer(shown, hidden_global=hidden)


async def _set(req: Request, scope: str, name: str, window: str, amount: Amount, hard: str | None) -> Answer:
    row = QuotaRow(req.room_id, scope, name, window, amount.unit, str(amount.value), hard == "hard", False)
    await req.services.store.set_room_quota(row, req.sender)
    req.services.on_quota_change()
    statuses = await req.services.quotas.statuses(req.rooms)
    status = next(s for s in statuses if (s.quota.scope, s.quota.name, s.quota.window) == (scope, name, window))
    text = f"Set {status.quota.describe()} ({'hard' if row.hard else 'soft'}); used so far: {used_of_limit(status)}."
    return Answer.words(text)


async def _clear(req: Request, scope: str, name: str, window: str) -> Answer:
    before = {(q.scope, q.name, q.window) for q in await req.services.quotas.for_room(req.rooms)}
    if (scope, name, window) not in before:
        text = "There is no such quota in this room; see !usage quota."
        return Answer.words(text)
    row = QuotaRow(req.room_id, scope, name, window, "tokens", "0", False, True)
    await req.services.store.set_room_quota(row, req.sender)
    req.services.on_quota_change()
    text = f"Cleared the {window} {scope} quota{' of ' + name if name else ''} in this room."
    return Answer.words(text)


@registry.command("quota set room", help="set this room's budget: AMOUNT is tokens (200k, 1.5m) or dollars ($50)",
                  args=[WINDOW, AMOUNT, HARD], permission=Permission.ROOM_ADMIN)  # fmt: skip
async def set_room(req: Request, window: str, amount: Amount, hard: str | None) -> Answer:
    return await _set(req, "room", "", window, amount, hard)


@registry.command("quota set agent", help="set an agent's budget in this room",
                  args=[AGENT, WINDOW, AMOUNT, HARD], permission=Permission.ROOM_ADMIN)  # fmt: skip
async def set_agent(req: Request, name: str, window: str, amount: Amount, hard: str | None) -> Answer:
    return await _set(req, "agent", name, window, amount, hard)


@registry.command("quota set user", help="set a person's budget in this room",
                  args=[USER, WINDOW, AMOUNT, HARD], permission=Permission.ROOM_ADMIN)  # fmt: skip
async def set_user(req: Request, name: str, window: str, amount: Amount, hard: str | None) -> Answer:
    return await _set(req, "user", name, window, amount, hard)


@registry.command("quota clear room", help="remove this room's budget", args=[WINDOW],
                  permission=Permission.ROOM_ADMIN)  # fmt: skip
async def clear_room(req: Request, window: str) -> Answer:
    return await _clear(req, "room", "", window)


@registry.command("quota clear agent", help="remove an agent's budget in this room", args=[AGENT, WINDOW],
                  permission=Permission.ROOM_ADMIN)  # fmt: skip
async def clear_agent(req: Request, name: str, window: str) -> Answer:
    return await _clear(req, "agent", name, window)


@registry.command("quota clear user", help="remove a person's budget in this room", args=[USER, WINDOW],
                  permission=Permission.ROOM_ADMIN)  # fmt: skip
async def clear_user(req: Request, name: str, window: str) -> Answer:
    return await _clear(req, "user", name, window)
