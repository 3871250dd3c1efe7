"""The chart drawn by the server: well-formed SVG, every name escaped, unpriced never drawn as $0."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from matrix_usage_bot.bot.dashboard.series import Bucket, CostSeries
from matrix_usage_bot.bot.dashboard.svg import render_svg, tick_text
from matrix_usage_bot.tracking.store import Sums

PICO = 10**12
SVG = "{http://www.w3.org/2000/svg}"
NASTY = ['<script>alert("x")</script>', "Tom & \"Jerry\" 'o'", "מודל־עברי", "]]><!--"]


def series() -> CostSeries:
    buckets = [Bucket(i * 3_600_000, (i + 1) * 3_600_000, f"{i:02d}:00", f"2026-11-05 {i:02d}:00") for i in range(3)]
    cost = {NASTY[0]: [3 * PICO // 100, 0, 0], NASTY[1]: [PICO // 100, 0, 0], NASTY[2]: [0, 0, 2 * PICO // 100],
            NASTY[3]: [0, 0, 0]}  # fmt: skip
    sums = [Sums("a", calls=4, cost_pusd=4 * PICO // 100), Sums("b", calls=2, unpriced_calls=2),
            Sums("c", calls=3, unpriced_calls=1, cost_pusd=2 * PICO // 100)]  # fmt: skip
    return CostSeries("hour", "model", buckets, list(NASTY), cost, sums)


def test_names_are_text_and_the_svg_is_well_formed():
    svg = render_svg(series(), 390)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("width") == "390"
    assert not root.findall(f".//{SVG}script") and "<script" not in svg
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert f"2026-11-05 00:00 · {NASTY[0]}: $0.03" in titles
    assert f"2026-11-05 00:00 · {NASTY[1]}: $0.01" in titles
    assert f"2026-11-05 02:00 · {NASTY[2]}: $0.02" in titles
    bars = root.findall(f"{SVG}rect")
    assert [b.get("class") for b in bars] == ["s0", "s1", "s2", "hit"]


def test_a_bucket_of_unpriced_calls_is_a_marker_not_a_bar_of_zero():
    root = ET.fromstring(render_svg(series(), 960))
    markers = root.findall(f"{SVG}circle")
    assert len(markers) == 1 and markers[0].get("class") == "unpriced"
    assert markers[0].find(f"{SVG}title").text == "2026-11-05 01:00: 2 calls, unpriced"
    partly = next(r for r in root.findall(f"{SVG}rect") if r.get("class") == "hit")
    assert partly.find(f"{SVG}title").text == "2026-11-05 02:00: $0.02 + 1 unpriced call"


def test_axis_ticks_and_width_bounds():
    root = ET.fromstring(render_svg(series(), 10_000))
    assert root.get("width") == "1600"
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert ticks == ["$0.00", "$0.01", "$0.02", "$0.03", "$0.04"]
    assert tick_text(5 * PICO // 1000, 5 * PICO // 1000) == "$0.005"
    assert tick_text(1500 * PICO, 500 * PICO) == "$1,500.00"
