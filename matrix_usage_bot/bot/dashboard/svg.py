"""The dashboard's chart as SVG drawn by the server: stacked bars of cost per hour or day.

Drawn at the width the page asks for, in pixels, so text stays readable on a phone. Colours are
CSS classes (`s0`..`s7`, `other`), so the page's light and dark themes colour it; every name goes
through `escape` here, the one place the chart's text is written. A bucket whose calls are all
unpriced gets a marker on the axis, never a bar of $0.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

from matrix_usage_bot.tracking.pricing import PICO

from ..render.numbers import exact_int, human_usd, priced_text
from .series import CostSeries

HEIGHT = 240
TOP, BOTTOM, LEFT, RIGHT = 12, 26, 56, 8
MIN_WIDTH, MAX_WIDTH = 280, 1600
LABEL_PX = 52  # room an axis label needs


def _nice_step(top: int, ticks: int = 4) -> int:
    """A round step (1, 2 or 5 times a power of ten, in pico-dollars) giving about `ticks` gridlines."""
    raw = max(top / ticks, 1)
    power = Decimal(10) ** Decimal(raw).adjusted()
    for factor in (1, 2, 5, 10):
        if power * factor >= raw:
            return int(power * factor)
    return int(power * 10)


def tick_text(pico: int, step: int) -> str:
    """A gridline's dollars, with as many decimals as the step needs (at least cents): $0.005, $0.010."""
    places = max(2, -(Decimal(step) / PICO).adjusted())
    return f"${(Decimal(pico) / PICO).quantize(Decimal(1).scaleb(-places)):,f}"


def _fmt(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def series_class(series: CostSeries, name: str) -> str:
    return "other" if name == series.other else f"s{series.names.index(name)}"


def render_svg(series: CostSeries, width: int) -> str:
    width = max(MIN_WIDTH, min(MAX_WIDTH, width))
    plot_w, plot_h = width - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(series.buckets), 1)
    stacks = [sum(series.cost[name][i] for name in series.names) for i in range(len(series.buckets))]
    step = _nice_step(max(stacks, default=0) or PICO // 100)
    top = step * max(1, -(-max(stacks, default=0) // step))
    slot = plot_w / n
    bar = max(1.0, slot * 0.72)

    def y(value: int) -> float:
        return TOP + plot_h - plot_h * value / top

    what = "hour" if series.unit == "hour" else "day"
    title = f"Cost per {what}, by {series.dimension}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{HEIGHT}" '
        f'viewBox="0 0 {width} {HEIGHT}" role="img" aria-labelledby="chart-title">',
        f'<title id="chart-title">{escape(title)}</title>',
    ]
    for tick in range(0, top + 1, step):
        ty = _fmt(y(tick))
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{width - RIGHT}" y1="{ty}" y2="{ty}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{ty}" text-anchor="end" dy="0.32em">'
                     f"{escape(tick_text(tick, step))}</text>")  # fmt: skip
    every = max(1, -(-n * LABEL_PX // max(plot_w, 1)))
    for i, bucket in enumerate(series.buckets):
        x = LEFT + slot * i + (slot - bar) / 2
        sums = series.sums[i]
        if i % every == 0:
            parts.append(f'<text class="axis" x="{_fmt(x + bar / 2)}" y="{HEIGHT - 8}" text-anchor="middle">'
                         f"{escape(bucket.label)}</text>")  # fmt: skip
        if sums.calls and sums.unpriced_calls == sums.calls:
            tip = f"{bucket.title}: {exact_int(sums.calls)} calls, unpriced"
            parts.append(f'<circle class="unpriced" cx="{_fmt(x + bar / 2)}" cy="{_fmt(y(0) - 4)}" r="4">'
                         f"<title>{escape(tip)}</title></circle>")  # fmt: skip
            continue
        base = 0
        for name in series.names:
            cost = series.cost[name][i]
            if cost <= 0:
                continue
            y0, y1 = y(base), y(base + cost)
            tip = f"{bucket.title} · {name}: {human_usd(cost)}"
            parts.append(f'<rect class="{series_class(series, name)}" x="{_fmt(x)}" y="{_fmt(y1)}" '
                         f'width="{_fmt(bar)}" height="{_fmt(max(y0 - y1, 0.5))}"><title>{escape(tip)}</title></rect>')
            base += cost
        if sums.unpriced_calls:
            total = priced_text(sums.cost_pusd, sums.calls, sums.unpriced_calls, count=True)
            parts.append(f'<rect class="hit" x="{_fmt(x)}" y="{_fmt(y(base) - 3)}" width="{_fmt(bar)}" height="3">'
                         f"<title>{escape(f'{bucket.title}: {total}')}</title></rect>")  # fmt: skip
    parts.append(f'<line class="baseline" x1="{LEFT}" x2="{width - RIGHT}" y1="{_fmt(y(0))}" y2="{_fmt(y(0))}"/>')
    parts.append("</svg>")
    return "".join(parts)
