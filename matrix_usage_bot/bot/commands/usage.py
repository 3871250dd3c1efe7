"""The `!usage` reporting commands of README: Running the bot. Each handler reads like the spec's table."""

from __future__ import annotations

from collections.abc import Callable

from matrix_usage_bot.tracking.periods import PERIOD_HELP
from matrix_usage_bot.tracking.queries import latency_by_model, month_projection, usage_report
from matrix_usage_bot.tracking.store import Sums

from ..render.answers import MAX_NAME, Answer, breakdown_answer, help_answer, summary_answer
from .args import PERIOD
from .catalogue import COMMANDS as registry
from .registry import Permission
from .request import Request

BREAKDOWNS = {
    "agents": "agent", "models": "model", "providers": "provider", "operations": "operation", "users": "user",
    "threads": "thread", "days": "day", "hours": "hour",
}  # fmt: skip


@registry.command("", help="this room: calls, tokens and cost (today and this month by default), top agents",
                  args=[PERIOD])  # fmt: skip
async def room_summary(req: Request, period: str | None) -> Answer:
    store = req.services.store
    periods = [req.period(period)] if period else [req.period("today"), req.period("month")]
    reports = [await usage_report(store, p, room_id=req.rooms) for p in periods]
    top = await usage_report(store, periods[-1], group="agent", room_id=req.rooms)
    pace = None if period else month_projection(reports[-1], req.services.now())
    return summary_answer("Usage in this room", reports, top, projection=pace)


def _breakdown(command: str, dimension: str) -> None:
    extra = {"model": ", with error calls and latency (median, p95)", "hour": " (today by default)"}.get(dimension, "")
    default = "today" if dimension == "hour" else "month"  # a month of hours is 744 rows

    @registry.command(command, help=f"this room broken down by {dimension}{extra}", args=[PERIOD])
    async def breakdown(req: Request, period: str | None) -> Answer:
        p = req.period(period, default)
        report = await usage_report(req.services.store, p, group=dimension, room_id=req.rooms)
        latency = await latency_by_model(req.services.store, p, room_id=req.rooms) if dimension == "model" else None
        return breakdown_answer(f"Usage in this room by {dimension}", report, latency=latency)


for _command, _dimension in BREAKDOWNS.items():
    _breakdown(_command, _dimension)


@registry.command("thread", help="inside a thread: that thread only", args=[PERIOD])
async def thread(req: Request, period: str | None) -> Answer:
    if req.thread_root is None:
        text = "Ask `thread` inside a thread: it reports that thread only."
        return Answer(text, text.replace("`thread`", "<code>thread</code>"))
    report = await usage_report(
        req.services.store, req.period(period), group="agent", room_id=req.rooms, thread_id=req.thread_root
    )
    return breakdown_answer("Usage in this thread by agent", report)


@registry.command("me", help="your own usage in this room; in a direct chat with the bot, across all rooms",
                  args=[PERIOD])  # fmt: skip
async def me(req: Request, period: str | None) -> Answer:
    store = req.services.store
    periods = [req.period(period)] if period else [req.period("today"), req.period("month")]
    if req.is_direct:
        reports = [await usage_report(store, p, user_id=req.sender) for p in periods]
        top = await usage_report(store, periods[-1], group="room", user_id=req.sender)
        return summary_answer(f"Usage by {req.sender} in all rooms", reports, top, _room_label(req))
    reports = [await usage_report(store, p, user_id=req.sender, room_id=req.rooms) for p in periods]
    top = await usage_report(store, periods[-1], group="agent", user_id=req.sender, room_id=req.rooms)
    return summary_answer(f"Usage by {req.sender} in this room", reports, top)


ONLY_IN_DIRECT_CHAT = Answer.words(
    "This answer covers every room, so I give it only in a direct chat with you: ask me there."
)


@registry.command("rooms", help="every room, one row each (in a direct chat with the bot)", args=[PERIOD],
                  permission=Permission.BOT_ADMIN)  # fmt: skip
async def rooms(req: Request, period: str | None) -> Answer:
    return await _across_rooms(req, period, "room", _room_label(req))


@registry.command("all", help="every room together, by agent (in a direct chat with the bot)", args=[PERIOD],
                  permission=Permission.BOT_ADMIN)  # fmt: skip
async def all_rooms(req: Request, period: str | None) -> Answer:
    return await _across_rooms(req, period, "agent")


async def _across_rooms(
    req: Request, period: str | None, group: str, label: Callable[[Sums], str] | None = None
) -> Answer:
    """Every room together: an answer only for a direct chat, where nobody else reads it."""
    if not req.is_direct:
        return ONLY_IN_DIRECT_CHAT
    report = await usage_report(req.services.store, req.period(period), group=group)
    return breakdown_answer(f"Usage in all rooms by {group}", report, label)


@registry.command("help", help="this list")
async def show_help(req: Request) -> Answer:
    return help_answer(req.services.prefix, req.services.help_rows(), PERIOD_HELP)


def _room_label(req: Request) -> Callable[[Sums], str]:
    def label(row: Sums) -> str:
        """The room's name, cut to fit, beside its id, which is never cut: the id is what names it for sure."""
        room_id = str(row.key or "(no room)")
        name = req.services.room_name(room_id)
        room = MAX_NAME - len(room_id) - len(" ()")
        if not name or room < 2:
            return room_id
        return f"{name if len(name) <= room else name[: room - 1] + '…'} ({room_id})"

    return label
