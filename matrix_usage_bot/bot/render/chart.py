"""The usage chart as a PNG, and the same figures in words for clients that show no images.

Plotting only: the series come ready-made in a `ChartData` (see `bot.chart_data`). matplotlib is
imported on first use and drives a bare `Figure` (Agg canvas, no pyplot state), under a lock, so
a chart can be drawn in a worker thread while the bot keeps answering.
"""

from __future__ import annotations

import io
import math
import struct
import textwrap
import threading
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any

from matrix_usage_bot.bot.chart_data import ChartData
from matrix_usage_bot.tracking.pricing import PICO

from .numbers import cost_text, exact_int, human_tokens, human_usd

WIDTH_IN, HEIGHT_IN, DPI = 12.0, 6.4, 100
PLOT = (0.065, 0.12, 0.62, 0.73)
"""The plot's place in the figure (left, bottom, width, height, as fractions), whatever the legend holds."""
LEGEND_X, LEGEND_CHARS = 0.765, 24
"""Where the legend starts (the cost axis's labels lie between), and the characters of its lines."""
# Okabe-Ito, readable for colour-blind people and on light and dark clients; "other" is grey.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#7F3C8D")
OTHER_COLOUR = "#B8B8B8"
COST_COLOUR = "#1F1F1F"
MAX_TICKS = 16
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Png:
    data: bytes
    width: int
    height: int


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _text(value: str) -> str:
    """Literal text for matplotlib: a '$' would otherwise start mathtext."""
    return value.replace("$", r"\$")


def legend_label(name: str, figure: str, width: int = LEGEND_CHARS) -> str:
    """A series' whole name on as many lines as it needs (long model names break at their hyphens, or
    anywhere), then its figure: on the last line if it fits there, else on a line of its own."""
    lines = textwrap.wrap(name, width, break_on_hyphens=True) or [name]
    if len(lines[-1]) + 2 + len(figure) <= width:
        lines[-1] += f"  {figure}"
    else:
        lines.append(figure)
    return "\n".join(lines)


def cost_points(data: ChartData) -> list[float]:
    """Each day's cost for the line, NaN where it has no point: a day without calls (the line breaks there
    rather than dipping to a $0 that says nothing of the days around it), and a day whose calls are all
    unpriced (its cost is unknown, not $0). A day of calls priced at $0 (local models) is a real 0."""
    points = []
    for cost, day in zip(data.cost_usd, data.day_totals or [None] * len(data.days), strict=True):
        known = day is None or (day.calls > 0 and day.unpriced_calls < day.calls)
        points.append(float(cost) if known else math.nan)
    return points


def _day_labels(days: list[date]) -> tuple[list[int], list[str]]:
    """Tick positions and labels: days for up to a quarter, else the first day of each month."""
    if len(days) > 92:
        firsts = [i for i, day in enumerate(days) if day.day == 1] or [0]
        step = -(-len(firsts) // 12)
        return firsts[::step], [days[i].strftime("%b\n%Y") for i in firsts[::step]]
    step = max(1, -(-len(days) // MAX_TICKS))
    positions = list(range(0, len(days), step))
    label = "%a\n%b %-d" if len(days) <= 31 else "%b %-d"
    return positions, [days[i].strftime(label) for i in positions]


def subtitle(data: ChartData) -> str:
    t = data.totals
    parts = [
        data.period.label,
        f"{human_tokens(t.total_tokens)} tokens",
        cost_text(t, count=True),
        f"{exact_int(t.calls)} call{'s' if t.calls != 1 else ''}",
    ]
    return " · ".join(parts) + f"  (days in {data.period.tz.key})"


def render_png(data: ChartData) -> Png:
    """Stacked bars of tokens per day and per series, cost per day as a line on a second axis."""
    with _LOCK:
        return _render(data)


def _render(data: ChartData) -> Png:
    out = io.BytesIO()
    figure(data).savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    png = out.getvalue()
    return Png(png, *png_size(png))


def figure(data: ChartData) -> Any:
    """The chart's matplotlib `Figure`. The plot has a fixed place (`PLOT`), the legend the strip right of it,
    so a long legend never narrows the plot."""
    from matplotlib.figure import Figure
    from matplotlib.patheffects import Normal, Stroke
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    fig.set_facecolor("white")
    ax = fig.add_axes(PLOT)
    x = list(range(len(data.days)))
    bottom = [0] * len(x)
    width = 0.8 if len(x) > 1 else 0.3
    edge = 0.6 if len(x) <= 62 else 0  # white gaps between stacked parts, unless the bars are thin
    handles: list[Any] = []
    colours = iter(PALETTE)
    for name, values in data.series.items():
        colour = OTHER_COLOUR if name == data.other else next(colours)
        label = _text(legend_label(name, human_tokens(data.series_totals.get(name, sum(values)))))
        bars = ax.bar(x, values, width, bottom=bottom, color=colour, label=label, edgecolor="white", linewidth=edge)
        handles.append(bars)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]

    ax.set_ylabel(f"tokens per day, by {data.dimension}", fontsize=11)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: human_tokens(int(v))))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.set_ylim(0, max(max(bottom, default=0), 1) * 1.12)
    ax.grid(axis="y", color="#E6E6E6", linewidth=0.8)
    ax.set_axisbelow(True)
    if len(x) <= 62:
        for i, day in enumerate(data.days):
            if day.weekday() >= 5:
                ax.axvspan(i - 0.5, i + 0.5, color="#F4F4F4", zorder=0, linewidth=0)
    positions, labels = _day_labels(data.days)
    ax.set_xticks(positions, labels, fontsize=9)
    ax.set_xlim(-0.6, len(x) - 0.4)
    ax.tick_params(axis="y", labelsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)

    if any(data.cost_usd):
        ax2 = ax.twinx()
        costs = cost_points(data)
        thin = len(x) > 62
        halo = [] if thin else [Stroke(linewidth=4.5, foreground="white"), Normal()]
        (line,) = ax2.plot(x, costs, color=COST_COLOUR, linewidth=1.0 if thin else 2.2, marker="o",
                           markersize=2 if len(x) > 45 else 4, zorder=5,  # a day alone between gaps is a dot
                           label=_text(legend_label("cost (USD)", cost_text(data.totals, count=True))),
                           path_effects=halo)  # fmt: skip
        ax2.set_ylim(0, max((c for c in costs if not math.isnan(c)), default=0) * 1.25 or 1)
        ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _usd_tick(v)))
        ax2.yaxis.set_major_locator(MaxNLocator(nbins=6))
        ax2.set_ylabel("cost per day (USD)", fontsize=11)
        ax2.tick_params(axis="y", labelsize=10)
        ax2.spines["top"].set_visible(False)
        handles.append(line)

    fig.text(0.01, 0.975, _text(data.title), fontsize=16, fontweight="bold", ha="left", va="top")
    ax.set_title(_text(subtitle(data)), fontsize=11, color="#555555", loc="left", pad=10)
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(LEGEND_X, PLOT[1] + PLOT[3]), frameon=False,
               fontsize=10, title=data.dimension.capitalize() + "s", title_fontsize=11, alignment="left")  # fmt: skip
    return fig


def _usd_tick(value: float) -> str:
    return human_usd(round(value * PICO))


def chart_summary(data: ChartData) -> tuple[str, str]:
    """The chart's figures in words (the image's caption, for clients that show no images)."""
    head = f"{data.title}: {subtitle(data)}"
    parts = [f"{name} {human_tokens(total)}" for name, total in data.series_totals.items() if total]
    by = f"Tokens by {data.dimension}: " + ", ".join(parts) + "."
    tokens = data.day_tokens()
    busiest = max(range(len(tokens)), key=lambda i: (tokens[i], data.cost_usd[i]))
    peak = (
        f"Busiest day {data.days[busiest].isoformat()}: {human_tokens(tokens[busiest])} tokens, "
        f"{cost_text(data.day_totals[busiest])}."
    )
    plain = "\n".join([head, by, peak])
    html = f"<p><strong>{escape(data.title)}</strong>: {escape(subtitle(data))}<br/>{escape(by)}<br/>{escape(peak)}</p>"
    return plain, html
