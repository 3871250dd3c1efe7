"""A usage Report as JSON (README: Command line), CSV, or an aligned terminal table."""

from __future__ import annotations

import io
import json
from typing import Any

from matrix_usage_bot.tracking.fields import COUNTERS
from matrix_usage_bot.tracking.pricing import pico_to_usd
from matrix_usage_bot.tracking.queries import Report
from matrix_usage_bot.tracking.store import Sums

from .csv_cells import csv_text, csv_writer
from .numbers import cost_text, exact_usd, human_tokens, sum_cells
from .table import fitted_table, plain_table

ROW_FIELDS = (
    "key", "calls", "input_tokens", "output_tokens", "total_tokens",
    *(name for name in COUNTERS if name not in ("input_tokens", "output_tokens")),
    "cost_usd", "input_cost_usd", "output_cost_usd", "unpriced_calls", "estimated_calls", "error_calls",
)  # fmt: skip
"""The columns of a report row (README: Command line), counters from the field table. `input_cost_usd` is every
part of the cost but output (input tokens, request fees, web searches); both parts sum to `cost_usd`."""
_COSTS = {"cost_usd": "cost_pusd", "input_cost_usd": "input_cost_pusd", "output_cost_usd": "output_cost_pusd"}


def row_dict(sums: Sums) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(sums, name) for name in ROW_FIELDS[1:] if name not in _COSTS}
    for name, pico in _COSTS.items():
        row[name] = float(pico_to_usd(getattr(sums, pico)))
    return {"key": None if sums.key is None else str(sums.key), **{name: row[name] for name in ROW_FIELDS[1:]}}


def report_json(report: Report) -> str:
    totals = row_dict(report.totals)
    totals["key"] = None
    body = {
        "period": {"start": report.period.start.isoformat(), "end": report.period.end.isoformat()},
        "totals": totals,
        "rows": [row_dict(r) for r in report.rows],
    }
    return json.dumps(body, indent=2)


def report_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(ROW_FIELDS)
    key_is_id = report.group in ("room", "user", "thread")
    for sums in report.rows or [report.totals]:
        row = row_dict(sums)
        for name, pico in _COSTS.items():
            row[name] = cost_text(sums, exact_usd, pico)
        row["key"] = csv_text(row["key"], id_column=key_is_id) if row["key"] is not None else None
        writer.writerow(["" if row[f] is None else row[f] for f in ROW_FIELDS])
    return out.getvalue()


TABLE_WIDTH = 100
"""The terminal table's width: token counts turn compact (1.2M) and then long names are elided to fit it."""
_TABLE_COLUMNS = (
    ("Calls", "calls"), ("Input", "input_tokens"), ("Output", "output_tokens"), ("Cached", "cache_read_tokens"),
    ("Reasoning", "reasoning_tokens"), ("Cost", "cost_pusd"), ("Unpriced", "unpriced_calls"),
    ("Estimated", "estimated_calls"), ("Errors", "error_calls"),
)  # fmt: skip
_TOKENS = frozenset(name for name in COUNTERS if name.endswith("_tokens"))


def report_table(report: Report, title: str, width: int = TABLE_WIDTH) -> str:
    """Exact counts when they fit `width`, else token counts in short (12.3M, the exact ones are in CSV and
    JSON); names too long for what is left are elided in the middle, never so far that two read the same."""
    headers = [(report.group or "").capitalize() or "Usage", *(header for header, _ in _TABLE_COLUMNS)]
    keyed = [(str(r.key) if r.key is not None else "(none)", r) for r in report.rows] + [("TOTAL", report.totals)]
    period = f"{report.period.label} ({report.period.start.astimezone(report.period.tz):%Y-%m-%d %H:%M %Z} to "
    period += f"{report.period.end.astimezone(report.period.tz):%Y-%m-%d %H:%M %Z})"
    align = "l" + "r" * len(_TABLE_COLUMNS)
    for compact in (False, True):
        rows = [[key, *_cells(sums, compact)] for key, sums in keyed]
        if compact or max(len(line) for line in plain_table(headers, rows, align).splitlines()) <= width:
            break
    return f"{title}: {period}\n" + fitted_table(headers, rows, align, width)


def _cells(s: Sums, compact: bool) -> list[str]:
    exact = sum_cells(s, [name for _, name in _TABLE_COLUMNS])
    return [human_tokens(getattr(s, name)) if compact and name in _TOKENS else cell
            for (_, name), cell in zip(_TABLE_COLUMNS, exact, strict=True)]  # fmt: skip
