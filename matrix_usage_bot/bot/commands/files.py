"""`!usage chart` and `!usage export`: answers that carry a file (README: Running the bot).

Both are scoped to the room where they are asked (`req.rooms`: the room and its predecessors),
never to an argument. The upload itself, and the homeserver's size limit, are the bot's job
(`UsageBot._on_command`).
"""

from __future__ import annotations

import asyncio
from html import escape

from matrix_usage_bot.tracking.periods import Period
from matrix_usage_bot.tracking.queries import usage_report
from matrix_usage_bot.tracking.store import Filters

from ..chart_data import DIMENSIONS, chart_data
from ..render.answers import Answer, Attachment, totals_line
from ..render.chart import chart_summary, render_png
from ..render.export import ExportTooLarge, events_csv, export_filename
from ..render.numbers import exact_int
from .args import PERIOD, choice
from .catalogue import COMMANDS as registry
from .request import Request

MAX_TITLE = 60


def _words(text: str) -> Answer:
    return Answer(text, f"<p>{escape(text)}</p>")


def chart_title(req: Request) -> str:
    name = req.services.room_name(req.room_id)
    if not name:
        return "Daily usage in this room"
    if len(name) > MAX_TITLE:
        name = name[: MAX_TITLE - 1] + "…"
    return f"Daily usage in {name}"


@registry.command("chart", help="a PNG chart of daily usage: tokens by agent or model, and cost (default: this month)",
                  args=[PERIOD, choice("by", DIMENSIONS, keyword="by")])  # fmt: skip
async def chart(req: Request, period: str | None, by: str | None) -> Answer:
    p = req.period(period)
    data = await chart_data(req.services.store, p, by or "agent", room_id=req.rooms, title=chart_title(req))
    if data.empty:
        return _words(f"No usage in this room, {p.label}: nothing to chart.")
    png = await asyncio.to_thread(render_png, data)
    plain, html = chart_summary(data)
    info = {"mimetype": "image/png", "size": len(png.data), "w": png.width, "h": png.height}
    name = f"usage-chart-{p.first_day.isoformat()}.png"
    return Answer(plain, html, Attachment(name, "image/png", png.data, "m.image", info))


@registry.command("export", help="a CSV file of this room's events (default: this month)", args=[PERIOD])
async def export(req: Request, period: str | None) -> Answer:
    return await events_file(req, req.period(period), "in this room", room_id=req.rooms)


async def events_file(req: Request, p: Period, where: str, *, room_id: tuple[str, ...] | None = None,
                      user_id: str | None = None) -> Answer:  # fmt: skip
    """The CSV of the events of period `p` in these rooms or by this user (`where` says which, in words)."""
    store = req.services.store
    rows = store.iter_events(p.start_ms, p.end_ms, Filters(room_id=room_id, user_id=user_id))
    try:
        result = await events_csv(rows, p.tz)
    except ExportTooLarge:
        return _words(f"The export of {p.label} is too large to send. Ask for a shorter period, e.g. 7d.")
    kept = await usage_report(store, p, room_id=room_id, user_id=user_id)
    if not result.events and not kept.totals.calls:
        return _words(f"No usage {where}, {p.label}: nothing to export.")
    name = export_filename(p)
    text = f"Events {where}, {p.label}: {exact_int(result.events)} rows. {totals_line(result.totals)}."
    missing = kept.totals.calls - result.events
    if missing > 0:
        text += (f" {exact_int(missing)} older calls are counted in the totals of {req.services.prefix} but their "
                 "raw events were removed by retention (storage.retention_days).")  # fmt: skip
    info = {"mimetype": "text/csv", "size": len(result.data)}
    return Answer(text, f"<p>{escape(text)}</p>", Attachment(name, "text/csv", result.data, "m.file", info))


def too_large_answer(command: str, filename: str, size: int, limit: int) -> Answer:
    """The homeserver would refuse the file: say so, and suggest the same command over a shorter period."""
    words = command.split()
    named = next((i + 1 for i, word in enumerate(words) if word.lower() in ("chart", "export")), 2)
    shorter = " ".join([*words[:named], "7d"])  # e.g. "!usage export 7d", "!usage me export 7d"
    text = (f"{filename} would be {_mb(size)}, more than this homeserver accepts ({_mb(limit)}). "
            f"Ask for a shorter period, e.g. {shorter}")  # fmt: skip
    return Answer(f"⚠️ {text}", f"<p>⚠️ {escape(text)}</p>")


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1000:.1f} kB"
