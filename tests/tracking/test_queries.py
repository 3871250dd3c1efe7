import random
from collections import defaultdict
from datetime import UTC, datetime

import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.fields import COLUMN
from matrix_usage_bot.tracking.maintenance import MS_PER_DAY, apply_retention
from matrix_usage_bot.tracking.periods import parse_period, zone
from matrix_usage_bot.tracking.queries import usage_report

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
ROOMS = ["!a:x", "!b:x", "!c:x"]
AGENTS = ["researcher", "coder", None]
MODELS = [("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-5"), ("ollama", "llama3"), ("openai", "gpt-4o-mini")]


def make_events(n=3000, seed=1):
    rng = random.Random(seed)
    start = datetime(2026, 9, 20, tzinfo=UTC).timestamp()
    events = []
    for i in range(n):
        provider, model = rng.choice(MODELS)
        inp = rng.randint(0, 5000)
        cr = rng.randint(0, inp) if provider != "ollama" else 0
        out = rng.randint(0, 900)
        events.append(dict(
            provider=provider, model=model, input_tokens=inp, output_tokens=out, cache_read_tokens=cr,
            reasoning_tokens=rng.randint(0, out), room_id=rng.choice(ROOMS), agent=rng.choice(AGENTS),
            thread_id=rng.choice([None, "$t1", "$t2"]), user_id=rng.choice(["@u1:x", "@u2:x"]),
            ts=start + rng.random() * (NOW.timestamp() - start), event_id=f"ev{i}",
        ))  # fmt: skip
    return events


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request, tmp_path_factory):
    """Built once per module and backend (sync, so it has no event loop of its own); each test opens a copy."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('queries') / 'usage.db'}"
    else:
        url = request.getfixturevalue("pg_server").new_database()
    events = make_events()
    with tracking.Tracker(url) as tracker:
        for e in events:
            tracker.record(**e)
    return url, events


@pytest.fixture
async def loaded(request, database, tmp_path):
    """The database, opened; a test that changes it (marked `writes`) gets a copy of its own."""
    import shutil

    url, events = database
    if request.node.get_closest_marker("writes") is None:
        copy = url
    elif url.startswith("sqlite:///"):
        copy = f"sqlite:///{tmp_path / 'usage.db'}"
        shutil.copy(url.removeprefix("sqlite:///"), copy.removeprefix("sqlite:///"))
    else:
        copy = request.getfixturevalue("pg_server").new_database(template=url)
    store = await tracking.store.open_store(copy)
    costs = {}
    async for row in store.iter_events(-(10**15), 10**15, tracking.store.Filters()):
        costs[row[0]] = row[COLUMN["cost_pusd"]]
    yield store, events, costs
    await store.close()


def brute_force(events, costs, period, group, **filters):
    out = defaultdict(lambda: [0, 0, 0, 0, 0])
    for e in events:
        ts_ms = int(e["ts"] * 1000)
        if not period.start_ms <= ts_ms < period.end_ms:
            continue
        if any(e.get(k) != v for k, v in filters.items()):
            continue
        if group == "day":
            key = datetime.fromtimestamp(e["ts"], UTC).astimezone(period.tz).date().isoformat()
        elif group == "hour":  # the local clock hour (a repeated hour is one)
            key = datetime.fromtimestamp(e["ts"], UTC).astimezone(period.tz).strftime("%Y-%m-%d %H:00")
        elif group == "source":
            key = "tracker"
        else:
            column = {"user": "user_id", "room": "room_id", "thread": "thread_id"}.get(group, group)
            key = e.get(column) if group else None
        row = out[key]
        row[0] += 1
        row[1] += e["input_tokens"]
        row[2] += e["output_tokens"]
        row[3] += costs[e["event_id"]] or 0
        row[4] += costs[e["event_id"]] is None
    return dict(out)


@pytest.mark.parametrize("tz", ["Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu", "America/New_York", "UTC",
                                "Australia/Adelaide", "America/St_Johns"])
@pytest.mark.parametrize("group", [None, "agent", "model", "day", "hour", "thread", "user", "room", "source"])
@pytest.mark.parametrize("period_text", ["month", "week", "2026-10", "2026-10-25..2026-11-03", "today", "all"])
async def test_report_equals_brute_force_over_raw_events(loaded, tz, group, period_text):
    store, events, costs = loaded
    period = parse_period(period_text, zone(tz), now=NOW)
    filters = {"room_id": "!a:x"} if group != "room" else {}
    report = await usage_report(store, period, group=group, **filters)
    expected = brute_force(events, costs, period, group, **filters)
    got_rows = report.rows if group else ([report.totals] if report.totals.calls else [])
    got = {r.key: [r.calls, r.input_tokens, r.output_tokens, r.cost_pusd, r.unpriced_calls] for r in got_rows}
    assert got == expected
    assert report.totals.calls == sum(v[0] for v in expected.values())


@pytest.mark.writes
async def test_retention_keeps_reports_over_deleted_events(loaded):
    store, _, _ = loaded
    now_ms = int(NOW.timestamp() * 1000)
    periods = [parse_period(p, zone("Europe/Berlin"), now=NOW) for p in ("2026-09", "2026-10", "all")]
    before = [await usage_report(store, p, group="agent") for p in periods]
    deleted = await apply_retention(store, 30, now_ms=now_ms)
    assert deleted > 1000
    oldest = await store.oldest_event_ms()
    assert oldest >= now_ms - 30 * MS_PER_DAY - 3_600_000
    after = [await usage_report(store, p, group="agent") for p in periods]
    assert [(r.totals, r.rows) for r in after] == [(r.totals, r.rows) for r in before]
    assert await apply_retention(store, None) == 0
