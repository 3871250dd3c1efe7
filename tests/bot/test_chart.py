"""`!usage chart`: the series handed to the plotting code equal the queries, and the PNG shows them."""

import io
import random
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.chart_data import OTHER, chart_data
from matrix_usage_bot.bot.commands import COMMANDS as registry
from matrix_usage_bot.bot.commands import files
from matrix_usage_bot.bot.commands.dispatch import Dispatcher
from matrix_usage_bot.bot.commands.request import Services
from matrix_usage_bot.bot.render.chart import OTHER_COLOUR, PALETTE, chart_summary, png_size, render_png
from matrix_usage_bot.tracking.periods import parse_period
from matrix_usage_bot.tracking.pricing import pico_to_usd
from matrix_usage_bot.tracking.queries import usage_report
from matrix_usage_bot.tracking.store import open_store

TZ = ZoneInfo("Europe/Berlin")
ROOM, ELSEWHERE = "!chart:example.org", "!elsewhere:example.org"
AGENTS = [f"agent-{n:02d}" for n in range(11)] + [None]


def make_events(n=400, seed=5):
    rng = random.Random(seed)
    start = datetime(2025, 3, 1, tzinfo=UTC).timestamp()
    events = []
    for i in range(n):
        # many calls late in the UTC day: they belong to the next local day in Berlin
        ts = start + rng.randrange(31) * 86400 + rng.choice([rng.random() * 86400, 23.5 * 3600])
        model = rng.choice(["gpt-4o", "gpt-4o-mini", "my-local-model"])
        events.append(dict(
            provider="openai", model=model, input_tokens=rng.randint(1, 9000), output_tokens=rng.randint(0, 900),
            room_id=rng.choice([ROOM, ROOM, ROOM, ELSEWHERE]), agent=rng.choice(AGENTS), ts=ts, event_id=f"c{i}",
        ))  # fmt: skip
    return events


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    db = tmp_path_factory.mktemp("chart") / "usage.db"
    events = make_events()
    with tracking.Tracker(f"sqlite:///{db}") as tracker:
        for e in events:
            tracker.record(**e)
    return f"sqlite:///{db}", events


@pytest.fixture
async def store(database):
    store = await open_store(database[0])
    yield store
    await store.close()


def expected_tokens(events, period, key="agent"):
    """Tokens per (name, local day) in ROOM, computed from the recorded events, not from the store."""
    out: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for e in events:
        day = datetime.fromtimestamp(e["ts"], TZ).date()
        if e["room_id"] == ROOM and period.first_day <= day < period.end_day:
            out[e[key] or "(none)"][day] += e["input_tokens"] + e["output_tokens"]
    return out


async def test_series_equal_the_recorded_events_and_the_queries(store, database):
    events = database[1]
    period = parse_period("2025-03", TZ)
    data = await chart_data(store, period, "agent", room_id=ROOM)
    expected = expected_tokens(events, period)
    ranked = sorted(expected, key=lambda name: (-sum(expected[name].values()), name))
    assert list(data.series) == [*ranked[:8], OTHER]
    assert data.days == period.days() and len(data.days) == 31
    for name in ranked[:8]:
        assert data.series[name] == [expected[name].get(day, 0) for day in data.days], name
    rest = [sum(expected[name].get(day, 0) for name in ranked[8:]) for day in data.days]
    assert data.series[OTHER] == rest
    # the same figures as `!usage days` (the query), day by day, tokens and cost
    days = await usage_report(store, period, group="day", room_id=ROOM)
    by_day = {date.fromisoformat(r.key): r for r in days.rows}
    assert data.day_tokens() == [by_day[d].total_tokens if d in by_day else 0 for d in data.days]
    assert data.cost_usd == [pico_to_usd(by_day[d].cost_pusd) if d in by_day else Decimal(0) for d in data.days]
    assert data.totals.total_tokens == sum(data.day_tokens()) == days.totals.total_tokens
    assert sum(data.series_totals.values()) == days.totals.total_tokens


async def test_by_model_and_the_scope_of_one_room(store, database):
    period = parse_period("2025-03", TZ)
    data = await chart_data(store, period, "model", room_id=ROOM)
    expected = expected_tokens(database[1], period, key="model")
    assert set(data.series) == set(expected) and data.other is None
    for name, values in data.series.items():
        assert values == [expected[name].get(day, 0) for day in data.days]


async def test_a_long_period_is_cut_to_the_days_with_usage(store):
    data = await chart_data(store, parse_period("all", TZ), "agent", room_id=ROOM)
    assert data.days[0] >= date(2025, 3, 1) and data.days[-1] <= date(2025, 4, 1)
    assert data.day_tokens()[0] > 0 and data.day_tokens()[-1] > 0
    empty = await chart_data(store, parse_period("2024-01", TZ), "agent", room_id=ROOM)
    assert empty.empty and len(empty.days) == 31


async def test_the_png_is_valid_sized_and_shows_every_series(store):
    data = await chart_data(store, parse_period("2025-03", TZ), "agent", room_id=ROOM, title="Daily usage in $ <Room>")
    png = render_png(data)
    assert png_size(png.data) == (png.width, png.height) == (1200, 640)
    image = Image.open(io.BytesIO(png.data))
    image.verify()
    pixels = Image.open(io.BytesIO(png.data)).convert("RGB")
    colours = {colour for _, colour in pixels.getcolors(maxcolors=1 << 20)}
    assert len(colours) > 50  # not blank
    wanted = [*PALETTE[: len(data.series) - 1], OTHER_COLOUR]
    for hex_colour in wanted:
        rgb = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
        assert rgb in colours, hex_colour


async def test_summary_says_the_same_figures_and_escapes_names(store):
    data = await chart_data(store, parse_period("2025-03", TZ), "agent", room_id=ROOM, title="Daily usage in <b>R</b>")
    plain, html = chart_summary(data)
    assert "March 2025" in plain and "Europe/Berlin" in plain and "agent-" in plain and "Busiest day 2025-03-" in plain
    assert "&lt;b&gt;R&lt;/b&gt;" in html and "<b>R</b>" not in html


@pytest.fixture
async def dispatcher(store):
    services = Services(store, TZ, lambda room: (room,), {ROOM: "Chart <Room>"}.get, list)
    return Dispatcher(registry, services, is_room_admin=lambda r, u: _false(), is_bot_admin=lambda u: False)


async def _false() -> bool:
    return False


async def test_the_command_draws_exactly_the_rooms_query(dispatcher, store, monkeypatch):
    drawn = []

    def spy(data):
        drawn.append(data)
        return render_png(data)

    monkeypatch.setattr(files, "render_png", spy)
    answer = await dispatcher.answer(room_id=ROOM, sender="@a:x", body="!usage chart 2025-03 by model",
                                     thread_root=None, is_direct=False)  # fmt: skip
    assert answer.attachment is not None and answer.attachment.msgtype == "m.image"
    info = answer.attachment.info
    assert info == {"mimetype": "image/png", "size": len(answer.attachment.data), "w": 1200, "h": 640}
    expected = await chart_data(store, parse_period("2025-03", TZ), "model", room_id=ROOM)
    assert drawn[0].series == expected.series and drawn[0].cost_usd == expected.cost_usd
    assert drawn[0].title == "Daily usage in Chart <Room>" and "Chart &lt;Room&gt;" in answer.html


async def test_an_empty_period_answers_in_words(dispatcher):
    answer = await dispatcher.answer(room_id=ROOM, sender="@a:x", body="!usage chart 2024-02",
                                     thread_root=None, is_direct=False)  # fmt: skip
    assert answer.attachment is None and answer.plain == "No usage in this room, February 2024: nothing to chart."
    bad = await dispatcher.answer(room_id=ROOM, sender="@a:x", body="!usage chart by room",
                                  thread_root=None, is_direct=False)  # fmt: skip
    assert bad.attachment is None and "Usage: !usage chart [P] [by agent|model]" in bad.plain
