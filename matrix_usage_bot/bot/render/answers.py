"""Chat answers: a readable plain body and an HTML body, built from query results.

Every name that comes from users or agents goes through `html.escape` (in `html_table` or here).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from matrix_usage_bot.tracking.queries import Latency, Projection, Report
from matrix_usage_bot.tracking.store import Sums

from .numbers import about_usd, cost_text, exact_int, human_tokens, sum_cells
from .table import html_table, plain_table


@dataclass(frozen=True)
class Attachment:
    """A file to upload with an answer: a chart (m.image) or an export (m.file)."""

    filename: str
    mimetype: str
    data: bytes
    msgtype: str = "m.file"
    info: dict[str, object] | None = None


@dataclass(frozen=True)
class Answer:
    plain: str
    html: str
    attachment: Attachment | None = None

    @classmethod
    def words(cls, text: str) -> Answer:
        """A one-line answer; its HTML is the same text, escaped (it may hold names from users or agents)."""
        return cls(text, escape(text))

    def then(self, other: Answer) -> Answer:
        """This answer followed by another, as one message."""
        return Answer(f"{self.plain}\n\n{other.plain}", f"{self.html}<br>{other.html}", self.attachment)


DIMENSION_TITLES = {
    "agent": "Agent",
    "model": "Model",
    "provider": "Provider",
    "user": "User",
    "room": "Room",
    "thread": "Thread",
    "day": "Day",
    "operation": "Operation",
    "hour": "Hour",
}


def totals_line(sums: Sums) -> str:
    """One line for people: '12 calls · 45.2k tokens (38.1k in, 7.1k out) · $0.42'."""
    if not sums.calls:
        return "no usage"
    parts = [
        f"{exact_int(sums.calls)} call{'s' if sums.calls != 1 else ''}",
        f"{human_tokens(sums.total_tokens)} tokens ({human_tokens(sums.input_tokens)} in, "
        f"{human_tokens(sums.output_tokens)} out)",
        cost_text(sums, count=True),
    ]
    line = " · ".join(parts)
    if sums.estimated_calls:
        n = sums.estimated_calls
        line += f" ({n} call{'s' if n != 1 else ''} estimated: no usage reported)"
    return line


def projection_line(pace: Projection) -> str:
    """'At this pace: about $41 by 30 November'."""
    return f"At this pace: about {about_usd(pace.cost_pusd)} by {pace.last_day.day} {pace.last_day:%B}"


def latency_text(ms: float) -> str:
    return f"{ms:,.0f} ms" if ms < 1000 else f"{ms / 1000:,.2f} s"


MAX_ROWS = 40
"""Rows a breakdown shows: a Matrix event is at most 64 KiB, and a chat answer is read, not searched."""
MAX_NAME = 80


def breakdown_table(
    report: Report, label: Callable[[Sums], str] | None = None, limit: int | None = None,
    latency: dict[str, Latency] | None = None,
) -> tuple[str, str]:  # fmt: skip
    """The rows of a breakdown with exact figures, as aligned plain text and as an HTML table."""
    headers, cells, align = breakdown_cells(report, label, limit, latency)
    return plain_table(headers, cells, align), html_table(headers, cells, align)


def breakdown_cells(
    report: Report, label: Callable[[Sums], str] | None = None, limit: int | None = None,
    latency: dict[str, Latency] | None = None,
) -> tuple[list[str], list[list[str]], str]:  # fmt: skip
    """A breakdown's headers, cells (exact figures, the total last) and alignment ('l' or 'r' per column).

    Past ``limit`` rows the rest is summed in one "(k more)" row; names are cut to ``MAX_NAME``.
    With ``latency`` (models), each row also shows its median and p95 latency.
    """
    title = DIMENSION_TITLES.get(report.group or "", "Usage")
    headers = [title, "Calls", "Input", "Output", "Total", "Cost", "Unpriced", "Estimated", "Errors"]
    rows = report.rows[:limit] if limit else report.rows
    name = label or default_label
    cells = [_cells(_short(name(r)), r) for r in rows]
    if latency is not None:
        headers += ["Median", "p95"]
        for row, line in zip(rows, cells, strict=False):
            figures = latency.get(str(row.key))
            line += [latency_text(figures.median_ms), latency_text(figures.p95_ms)] if figures else ["", ""]
    if limit and len(report.rows) > limit:
        rest = Sums("other")
        for r in report.rows[limit:]:
            rest.add(r)
        cells.append(_cells(f"({len(report.rows) - limit} more)", rest))
    cells.append(_cells("Total", report.totals))
    for line in cells:
        line += [""] * (len(headers) - len(line))
    return headers, cells, "l" + "r" * (len(headers) - 1)


def _short(name: str) -> str:
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 1] + "…"


def default_label(row: Sums) -> str:
    return "(none)" if row.key in (None, "") else str(row.key)


_CHAT_SUMS = ("calls", "input_tokens", "output_tokens", "total_tokens", "cost_pusd", "unpriced_calls",
              "estimated_calls", "error_calls")  # fmt: skip


def _cells(name: str, s: Sums) -> list[str]:
    return [name, *sum_cells(s, _CHAT_SUMS)]


def summary_answer(
    heading: str, periods: Sequence[Report], top: Report | None, label: Callable[[Sums], str] | None = None,
    projection: Projection | None = None,
) -> Answer:  # fmt: skip
    """`!usage`: one line per period (the month's with its projection), then the top rows of a breakdown."""
    lines = [heading]
    html_parts = [f"<p><strong>{escape(heading)}</strong></p><ul>"]
    for report in periods:
        text = f"{report.period.label.capitalize()}: {totals_line(report.totals)}"
        lines.append(text)
        html_parts.append(f"<li>{escape(text)}</li>")
    if projection is not None:
        text = projection_line(projection)
        if periods and periods[-1].totals.unpriced_calls:
            text += " (priced calls only)"
        lines.append(text)
        html_parts.append(f"<li>{escape(text)}</li>")
    html_parts.append("</ul>")
    if top is not None and top.rows:
        title = f"Top {DIMENSION_TITLES[top.group or 'agent'].lower()}s, {top.period.label}"
        plain, html = breakdown_table(top, label, limit=5)
        lines += ["", title + ":", plain]
        html_parts.append(f"<p>{escape(title)}:</p>{html}")
    return Answer("\n".join(lines), "".join(html_parts))


def breakdown_answer(
    heading: str, report: Report, label: Callable[[Sums], str] | None = None, latency: dict[str, Latency] | None = None
) -> Answer:
    full_heading = f"{heading}, {report.period.label}"
    if not report.totals.calls:
        text = f"{full_heading}: no usage."
        return Answer(text, f"<p>{escape(text)}</p>")
    plain, html = breakdown_table(report, label, limit=MAX_ROWS, latency=latency)
    summary = totals_line(report.totals)
    more = len(report.rows) - MAX_ROWS
    note = f"Showing {MAX_ROWS} of {len(report.rows)} rows; !usage export gives every call as CSV." if more > 0 else ""
    return Answer(
        f"{full_heading}: {summary}\n{plain}" + (f"\n{note}" if note else ""),
        f"<p><strong>{escape(full_heading)}</strong>: {escape(summary)}</p>{html}"
        + (f"<p>{escape(note)}</p>" if note else ""),
    )


def error_answer(message: str, usage: str) -> Answer:
    plain = f"⚠️ {message}\nUsage: {usage}"
    return Answer(plain, f"<p>⚠️ {escape(message)}<br/>Usage: <code>{escape(usage)}</code></p>")


def help_answer(prefix: str, rows: Sequence[tuple[str, str, str]], periods: str) -> Answer:
    """rows: (usage line, help text, who may run it)."""
    lines = ["Commands:"]
    items = []
    for usage, text, who in rows:
        note = "" if who == "anyone" else f" ({who} only)"
        lines.append(f"  {usage} : {text}{note}")
        items.append(f"<li><code>{escape(usage)}</code>: {escape(text)}{escape(note)}</li>")
    lines.append(f"P is a period: {periods}.")
    html = f"<p>Commands:</p><ul>{''.join(items)}</ul><p>P is a period: {escape(periods)}.</p>"
    return Answer("\n".join(lines), html)
