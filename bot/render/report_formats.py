"""A usage Report as JSON (SPEC section 4), CSV, or an aligned terminal table."""

from __future__ import annotations

import io
import json
from typing import Any

from tracking.fields import COUNTERS
from tracking.pricing import pico_to_usd
from tracking.queries import Report
from tracking.store import Sums

from .csv_cells import csv_text, csv_writer
from .numbers import cost_text, exact_usd, sum_cells
from .table import plain_table

ROW_FIELDS = (
    "key", "calls", "input_tokens", "output_tokens", "total_tokens",
    *(name for name in COUNTERS if name not in ("input_tokens", "output_tokens")),
    "cost_usd", "input_cost_usd", "output_cost_usd", "unpriced_calls", "estimated_calls", "error_calls",
)  # fmt: skip
"""The columns of a report row (SPEC section 4), counters from the field table. `input_cost_usd` is every
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


def report_table(report: Report, title: str) -> str:
    label = (report.group or "").capitalize() or "Usage"
    headers = [label, "Calls", "Input", "Output", "Total", "Cache read", "Reasoning", "Cost", "Unpriced",
               "Estimated", "Errors"]  # fmt: skip
    rows = [_cells(r, str(r.key) if r.key is not None else "(none)") for r in report.rows]
    rows.append(_cells(report.totals, "TOTAL"))
    period = f"{report.period.label} ({report.period.start.astimezone(report.period.tz):%Y-%m-%d %H:%M %Z} to "
    period += f"{report.period.end.astimezone(report.period.tz):%Y-%m-%d %H:%M %Z})"
    return f"{title}: {period}\n" + plain_table(headers, rows, align="l" + "r" * 10)


_TABLE_SUMS = ("calls", "input_tokens", "output_tokens", "total_tokens", "cache_read_tokens", "reasoning_tokens",
               "cost_pusd", "unpriced_calls", "estimated_calls", "error_calls")  # fmt: skip


def _cells(s: Sums, key: str) -> list[str]:
    return [key, *sum_cells(s, _TABLE_SUMS)]
