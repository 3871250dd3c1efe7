"""The chart's cost line, legend and layout: no cost point on a day without calls or with only unpriced
calls, whole series names in the legend, and a plot that keeps its place whatever the legend holds."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from matplotlib.backends.backend_agg import FigureCanvasAgg

from matrix_usage_bot.bot.chart_data import ChartData
from matrix_usage_bot.bot.render.chart import cost_points, figure, legend_label, render_png
from matrix_usage_bot.tracking.periods import parse_period
from matrix_usage_bot.tracking.store import Sums

LONG_NAMES = ["ft:gpt-4o-mini-2024-07-18:acme-research:summarizer-v2:AbC123", "claude-sonnet-4-5-20250929",
              "anthropic.claude-3-5-haiku-20241022-v1:0", "meta-llama/Llama-3.3-70B-Instruct-Turbo",
              "gemini-2.5-flash-preview-09-2025", "mistral-large-latest", "deepseek-reasoner", "o3"]  # fmt: skip


def chart(names: list[str], calls: list[int], unpriced: list[int], cents: list[int]) -> ChartData:
    days = [date(2026, 9, 1) + timedelta(n) for n in range(len(calls))]
    series = {name: [300 * (k + 1) * (c > 0) for c in calls] for k, name in enumerate(names)}
    rows = enumerate(zip(days, calls, unpriced, cents, strict=True))
    day_totals = [Sums(d.isoformat(), calls=c, unpriced_calls=u, input_tokens=sum(s[i] for s in series.values()),
                       cost_pusd=cent * 10**10) for i, (d, c, u, cent) in rows]  # fmt: skip
    totals = Sums(None)
    for day in day_totals:
        totals.add(day)
    return ChartData("Daily usage in !lab:hs", parse_period("2026-09", ZoneInfo("UTC")), "model", days, series,
                     [Decimal(c) / 100 for c in cents], totals, {n: sum(v) for n, v in series.items()}, None,
                     day_totals)  # fmt: skip


def test_days_without_calls_or_without_a_price_have_no_cost_point():
    data = chart(["gpt-4o"], calls=[3, 0, 2, 4, 1, 5], unpriced=[0, 0, 2, 1, 0, 0], cents=[40, 0, 0, 25, 0, 7])
    points = cost_points(data)
    assert [p for i, p in enumerate(points) if i not in (1, 2)] == [0.40, 0.25, 0.0, 0.07]  # day 4: priced at $0
    assert math.isnan(points[1]) and math.isnan(points[2])  # no calls; only unpriced calls
    assert len(render_png(data).data) > 0


def test_long_names_are_whole_in_the_legend():
    for name in LONG_NAMES:
        label = legend_label(name, "12.3k")
        assert label.replace("\n", "").replace("  12.3k", "").removesuffix("12.3k") == name
        assert max(len(line) for line in label.splitlines()) <= 24


def test_the_plot_keeps_its_place_and_the_legend_fits_beside_it():
    places = []
    for names in (["o3"], LONG_NAMES):
        fig = figure(chart(names, calls=[2] * 20, unpriced=[0] * 20, cents=[31] * 20))
        FigureCanvasAgg(fig)
        fig.draw_without_rendering()
        renderer = fig.canvas.get_renderer()
        plot = fig.axes[0].get_window_extent(renderer)
        cost_axis = fig.axes[1].get_tightbbox(renderer)
        legend = fig.legends[0].get_window_extent(renderer)
        assert cost_axis.x1 < legend.x0 and legend.x1 <= fig.bbox.width and legend.y0 >= 0, names
        places.append(tuple(round(v) for v in plot.bounds))
    assert places[0] == places[1]
