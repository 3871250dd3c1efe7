"""Quotas counted across all rooms (bot admins, in a direct chat) and plans (README: Running the bot)."""

from __future__ import annotations

from matrix_usage_bot.tracking.amounts import Amount
from matrix_usage_bot.tracking.store import EVERYWHERE

from ..render.answers import Answer
from .catalogue import COMMANDS as registry
from .quota import AMOUNT, HARD, UNIT, WINDOW, agent_name, clear_here, set_here, user_id
from .registry import Arg, Permission
from .request import Request

ANY_USER = Arg("name", "@ID", user_id, optional=True)
ANY_AGENT = Arg("name", "NAME", agent_name, optional=True)
PLAN = Arg("plan", "NAME", optional=True)

ONLY_IN_DIRECT_CHAT = Answer.words(
    "Quotas counted across all rooms are set in a direct chat with me, where nobody else reads their figures."
)


@registry.command("quota set everywhere user", args=[ANY_USER, WINDOW, AMOUNT, HARD],
                  help="a person's budget across all rooms; without @ID, every person's, each on their own",
                  permission=Permission.BOT_ADMIN)  # fmt: skip
async def set_user(req: Request, name: str | None, window: str, amount: Amount, hard: str | None) -> Answer:
    return await _set(req, "user", name or "", window, amount, hard)


@registry.command("quota set everywhere agent", args=[ANY_AGENT, WINDOW, AMOUNT, HARD],
                  help="an agent's budget across all rooms; without NAME, every agent's, each on its own",
                  permission=Permission.BOT_ADMIN)  # fmt: skip
async def set_agent(req: Request, name: str | None, window: str, amount: Amount, hard: str | None) -> Answer:
    return await _set(req, "agent", name or "", window, amount, hard)


@registry.command("quota set everywhere global", args=[WINDOW, AMOUNT, HARD],
                  help="one budget for all usage in all rooms", permission=Permission.BOT_ADMIN)  # fmt: skip
async def set_global(req: Request, window: str, amount: Amount, hard: str | None) -> Answer:
    return await _set(req, "global", "", window, amount, hard)


@registry.command("quota clear everywhere user", args=[ANY_USER, WINDOW, UNIT],
                  help="remove a budget across all rooms", permission=Permission.BOT_ADMIN)  # fmt: skip
async def clear_user(req: Request, name: str | None, window: str, unit: str) -> Answer:
    return await _clear(req, "user", name or "", window, unit)


@registry.command("quota clear everywhere agent", args=[ANY_AGENT, WINDOW, UNIT],
                  help="remove an agent's budget across all rooms", permission=Permission.BOT_ADMIN)  # fmt: skip
async def clear_agent(req: Request, name: str | None, window: str, unit: str) -> Answer:
    return await _clear(req, "agent", name or "", window, unit)


@registry.command("quota clear everywhere global", args=[WINDOW, UNIT],
                  help="remove the global budget", permission=Permission.BOT_ADMIN)  # fmt: skip
async def clear_global(req: Request, window: str, unit: str) -> Answer:
    return await _clear(req, "global", "", window, unit)


async def _set(req: Request, scope: str, name: str, window: str, amount: Amount, hard: str | None) -> Answer:
    if not req.is_direct:
        return ONLY_IN_DIRECT_CHAT
    return await set_here(req, scope, name, window, amount, hard, place=EVERYWHERE)


async def _clear(req: Request, scope: str, name: str, window: str, unit: str) -> Answer:
    if not req.is_direct:
        return ONLY_IN_DIRECT_CHAT
    return await clear_here(req, scope, name, window, unit, place=EVERYWHERE)


@registry.command("plan", args=[PLAN], help="which plan this room is on; bot admins: put it on plan NAME")
async def plan(req: Request, plan: str | None) -> Answer:
    book = req.services.quotas
    if plan is not None:
        if not req.is_bot_admin:
            return Answer.words("Only bot admins can put a room on a plan.")
        try:
            await book.set_room_plan(req.room_id, plan)
        except ValueError as exc:
            return Answer.words(f"{exc}.")
        req.services.on_quota_change()
    current = await book.room_plan(req.room_id)
    known = ", ".join(sorted(book.settings.plans)) or "none configured"
    if current is None:
        return Answer.words(f"This room is on no plan (plans: {known}).")
    quotas = [q.describe() for q in await book.for_room(req.rooms) if q.plan == current]
    listed = "; ".join(quotas) if quotas else "no quotas of its own (the room's own replace them)"
    verb = "Put this room on" if plan is not None else "This room is on"
    return Answer.words(f"{verb} plan {current}: {listed}.")
