"""What the dashboard shows for one room and period, as JSON for the page's script.

Every figure comes from the public queries the chat uses (`usage_report`, `latency_by_model`,
`month_projection`, the quota book, `tracking.advice`), formatted by the chat's own helpers, so the page
says what `!usage`, `!usage quota`, `!usage savings`, `!usage whatif` and `usage-bot report` say. Names are
left as text: the page writes them with `textContent`, never as HTML; the chart's SVG escapes its own (`svg.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from matrix_usage_bot.tracking.advice import Alternatives, room_runways
from matrix_usage_bot.tracking.periods import Period, PeriodError, parse_period
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.queries import latency_by_model, month_projection, usage_report
from matrix_usage_bot.tracking.quotas import QuotaBook
from matrix_usage_bot.tracking.settings import QuotaSettings
from matrix_usage_bot.tracking.store import Store, Sums

from ..render.answers import DIMENSION_TITLES, breakdown_cells, projection_line
from ..render.export import export_filename
from ..render.numbers import cost_text, exact_int, human_tokens
from ..render.quotas import QUOTA_ALIGN, QUOTA_HEADERS, RUNWAY_HEADER, quota_cells, runway_text
from .advice import advice_items
from .series import cost_series
from .svg import render_svg, series_class

BREAKDOWNS = ("agent", "model", "user", "thread")
CHART_DIMENSIONS = ("agent", "model")
MAX_TABLE_ROWS = 100
REFRESH_SECONDS = 60
MAX_DAYS = 366
PERIOD_CHOICES = f"today, week, month, last-month, or days YYYY-MM-DD..YYYY-MM-DD (at most {MAX_DAYS})"


def dashboard_period(text: str, tz: ZoneInfo, now: datetime) -> Period:
    """The page's periods: the chat's grammar, plus `last-month`, up to MAX_DAYS days (a chart's bars, each
    a query, stay bounded)."""
    if text == "last-month":
        first = now.astimezone(tz).date().replace(day=1) - timedelta(days=1)
        return parse_period(first.strftime("%Y-%m"), tz, now)
    period = parse_period(text, tz, now)
    if (period.end_day - period.first_day).days > MAX_DAYS:
        raise PeriodError(f"the dashboard shows at most {MAX_DAYS} days")
    return period


@dataclass(frozen=True)
class ViewRequest:
    """One room's dashboard: `rooms` is the room and the rooms it replaced, first the room itself."""

    store: Store
    quotas: QuotaSettings
    tz: ZoneInfo
    rooms: tuple[str, ...]
    now: datetime
    pricer: Pricer
    """The server's prices (its overrides), which advice re-prices with."""
    alternatives: Alternatives


def _tiles(totals: Sums) -> list[dict[str, str]]:
    def tile(label: str, value: str, exact: str | None = None) -> dict[str, str]:
        return {"label": label, "value": value, "exact": exact or value}

    return [
        tile("Calls", exact_int(totals.calls)),
        tile("Tokens", human_tokens(totals.total_tokens), f"{exact_int(totals.total_tokens)} tokens"),
        tile("Input", human_tokens(totals.input_tokens), f"{exact_int(totals.input_tokens)} tokens"),
        tile("Output", human_tokens(totals.output_tokens), f"{exact_int(totals.output_tokens)} tokens"),
        tile("Cost", cost_text(totals) if totals.calls else "$0.00", cost_text(totals, count=True)),
        tile("Unpriced calls", exact_int(totals.unpriced_calls)),
        tile("Estimated calls", exact_int(totals.estimated_calls)),
        tile("Error calls", exact_int(totals.error_calls)),
    ]


async def _tables(req: ViewRequest, period: Period) -> list[dict[str, Any]]:
    tables = []
    for dimension in BREAKDOWNS:
        report = await usage_report(req.store, period, group=dimension, room_id=req.rooms)
        latency = await latency_by_model(req.store, period, room_id=req.rooms) if dimension == "model" else None
        headers, rows, align = breakdown_cells(report, limit=MAX_TABLE_ROWS, latency=latency)
        title = f"By {DIMENSION_TITLES[dimension].lower()}"
        tables.append({"id": dimension, "title": title, "headers": headers, "align": align, "rows": rows})
    return tables


async def _quotas(req: ViewRequest) -> dict[str, Any]:
    """The room's own quotas, as `!usage quota` shows them (runway included); those counted across all rooms
    are only counted (their figures are every room's usage, which this room's link must not show)."""
    book = QuotaBook(req.store, req.quotas, req.tz, lambda: req.now)
    runways = [r for r in await room_runways(book, req.rooms) if not r.status.quota.counts_everywhere]
    rows = [[*quota_cells(r.status), runway_text(r)] for r in runways]
    elsewhere = len(await book.everywhere())
    note = ""
    if elsewhere:
        many = "s apply" if elsewhere != 1 else " applies"
        note = f"{elsewhere} quota{many} across all rooms too: ask the bot in a direct chat."
    return {"headers": [*QUOTA_HEADERS, RUNWAY_HEADER], "align": QUOTA_ALIGN, "rows": rows, "note": note}


async def _projection(req: ViewRequest) -> str | None:
    month = parse_period("month", req.tz, req.now)
    report = await usage_report(req.store, month, room_id=req.rooms)
    pace = month_projection(report, req.now)
    if pace is None:
        return None
    return projection_line(pace) + (" (priced calls only)" if report.totals.unpriced_calls else "")


async def _chart(req: ViewRequest, period: Period, by: str, width: int) -> dict[str, Any]:
    series = await cost_series(req.store, period, by, req.rooms)
    legend = [{"name": name, "class": series_class(series, name), "cost": cost_text(series.series_totals[name])}
              for name in series.names]  # fmt: skip
    unpriced = sum(s.unpriced_calls for s in series.sums)
    caption = f"Cost of the priced calls per {series.unit} ({req.tz.key})"
    if unpriced:
        caption += f"; {exact_int(unpriced)} unpriced call{'s' if unpriced != 1 else ''} not in the bars"
    return {"svg": render_svg(series, width), "legend": legend, "caption": caption, "unit": series.unit}


async def dashboard_view(req: ViewRequest, period: Period, by: str, width: int) -> dict[str, Any]:
    """Everything the page shows; `by` splits the chart (agent or model), `width` is its width in pixels."""
    report = await usage_report(req.store, period, room_id=req.rooms)
    local_end = period.end.astimezone(req.tz) - timedelta(seconds=1)
    return {
        "room": req.rooms[0],
        "timezone": req.tz.key,
        "period": {"label": period.label, "start": period.start.astimezone(req.tz).isoformat(),
                   "end": period.end.astimezone(req.tz).isoformat(),
                   "first_day": period.first_day.isoformat(), "last_day": local_end.date().isoformat()},
        "updated": f"{req.now.astimezone(req.tz):%H:%M}",
        "refresh_seconds": REFRESH_SECONDS,
        "tiles": _tiles(report.totals),
        "chart": await _chart(req, period, by, width),
        "tables": await _tables(req, period),
        "quotas": await _quotas(req),
        "projection": await _projection(req),
        "advice": await advice_items(req.store, req.pricer, req.alternatives, period, req.rooms),
        "export": {"filename": export_filename(period)},
        "empty": not report.totals.calls,
    }  # fmt: skip
