"""`!usage export`: one CSV row per raw event, with the columns of `usage-bot report --format csv`.

The group key becomes the event's own fields (event_id, ts, room, thread, agent, user, operation,
provider, model, status); the figures are the same columns, so a spreadsheet can sum them. The last
row, `TOTAL`, sums the file. Costs are exact decimal dollars, the input and output parts apart
(`input_cost_usd` + `output_cost_usd` = `cost_usd`; events stored before migration 8 have no parts);
an unpriced call has the costs "unpriced" and `unpriced_calls` 1, never $0.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from matrix_usage_bot.tracking.fields import COLUMN, COUNTERS
from matrix_usage_bot.tracking.periods import Period
from matrix_usage_bot.tracking.store import Sums

from .csv_cells import ID_COLUMNS, csv_text, csv_writer
from .numbers import cost_text, exact_usd
from .report_formats import ROW_FIELDS

ATTRIBUTES = ("event_id", "ts", "room_id", "thread_id", "agent", "user_id", "operation", "provider", "model")
EXPORT_FIELDS = (*ATTRIBUTES, *ROW_FIELDS[1:], "status")
TOTAL_KEY = "TOTAL"
MAX_BYTES = 256 * 1024 * 1024  # past this the file is refused before the homeserver's own limit is asked


class ExportTooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"the export passed {size} bytes")
        self.size = size


@dataclass
class EventsCsv:
    data: bytes
    events: int
    totals: Sums


def export_filename(period: Period) -> str:
    last = period.end_day - timedelta(days=1)
    span = period.first_day.isoformat() if last == period.first_day else f"{period.first_day}_{last}"
    return f"usage-{span}.csv"


_COSTS = {"cost_usd": "cost_pusd", "input_cost_usd": "input_cost_pusd", "output_cost_usd": "output_cost_pusd"}


def _figures(sums: Sums) -> list[object]:
    """The figures of a row; the costs exact, "unpriced" for an unpriced call or a file of them (never $0)."""
    return [cost_text(sums, exact_usd, _COSTS[name]) if name in _COSTS else getattr(sums, name)
            for name in ROW_FIELDS[1:]]  # fmt: skip


def event_sums(row: tuple) -> Sums:
    cost = row[COLUMN["cost_pusd"]]
    return Sums(
        row[COLUMN["event_id"]],
        calls=1,
        **{name: int(row[COLUMN[name]] or 0) for name in COUNTERS},
        cost_pusd=int(cost or 0),
        input_cost_pusd=int(row[COLUMN["input_cost_pusd"]] or 0),
        output_cost_pusd=int(row[COLUMN["output_cost_pusd"]] or 0),
        unpriced_calls=1 if cost is None else 0,
        error_calls=1 if row[COLUMN["status"]] == "error" else 0,
        estimated_calls=1 if row[COLUMN["usage_source"]] == "estimated" else 0,
    )


async def events_csv(rows: AsyncIterable[tuple], tz: ZoneInfo, max_bytes: int = MAX_BYTES) -> EventsCsv:
    """The CSV of raw event rows (`EVENT_COLUMNS` order); raises ExportTooLarge past max_bytes."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(EXPORT_FIELDS)
    totals = Sums(TOTAL_KEY)
    count = 0
    async for row in rows:
        sums = event_sums(row)
        totals.add(sums)
        count += 1
        ts = datetime.fromtimestamp(row[COLUMN["ts_ms"]] / 1000, UTC).astimezone(tz).isoformat(timespec="milliseconds")
        attributes = [csv_text(row[COLUMN[c]], id_column=c in ID_COLUMNS) if c != "ts" else ts for c in ATTRIBUTES]
        writer.writerow([*attributes, *_figures(sums), csv_text(row[COLUMN["status"]])])
        if out.tell() > max_bytes:
            raise ExportTooLarge(out.tell())
    writer.writerow([TOTAL_KEY, *[""] * (len(ATTRIBUTES) - 1), *_figures(totals), ""])
    return EventsCsv(out.getvalue().encode("utf-8"), count, totals)
