"""The HTTP tracker sends events as recorded and never prices them: the collector prices each once, with its
own overrides. What the collector refuses counts as rejected in the tracker's stats, not as a duplicate."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.http.server import UsageServer
from matrix_usage_bot.tracking.pricing import Pricer

from .conftest import KEYS, make_config, stored_count
from .test_http_tracker import spooled

WHEN = 1_790_000_000.25
"""A moment of 2026, the first event's time."""


@pytest.fixture
def pricings(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every price asked of any Pricer in this process (the tracker's and the collector's), as (provider, model)."""
    asked: list[tuple[str, str]] = []
    price = Pricer.price_parts_ms

    def counted(self: Pricer, provider: str, model: str, *args: object) -> object:
        asked.append((provider, model))
        return price(self, provider, model, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Pricer, "price_parts_ms", counted)
    return asked


async def test_each_event_is_priced_once_by_the_collector(db_url, tmp_path, pricings):
    """A real tracker posting to a real collector: one pricing per event, and each stored cost is genai-prices'
    own for the counts as recorded, at the event's time."""
    server = await UsageServer(make_config(db_url)).start()
    sent = {f"once-{n}": (2_000 + 97 * n, 2 * n + 1, 40 * n, 11 * n) for n in range(23)}
    try:
        async with tracking.Tracker(f"http://127.0.0.1:{server.port}", api_key=KEYS["writer"],
                                    spool=tmp_path / "spool.jsonl") as tracker:  # fmt: skip
            for n, (event_id, (inp, out, write, write_1h)) in enumerate(sent.items()):
                tracker.record(provider="anthropic", model="claude-sonnet-4-5", input_tokens=inp, output_tokens=out,
                               cache_write_tokens=write, cache_write_1h_tokens=write_1h, room_id="!a:x",
                               ts=WHEN + 3_600.5 * n, event_id=event_id)  # fmt: skip
            await tracker.flush()
    finally:
        await server.close()
    assert pricings == [("anthropic", "claude-sonnet-4-5")] * len(sent)
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        rows = conn.execute("SELECT event_id, cost_pusd FROM events").fetchall()
    stored = {event_id: Decimal(cost) / 10**12 for event_id, cost in rows}
    expected = {}
    for n, (event_id, (inp, out, write, write_1h)) in enumerate(sent.items()):
        usage = Usage(input_tokens=inp, output_tokens=out, cache_write_tokens=write, cache_write_1h_tokens=write_1h)
        when = datetime.fromtimestamp(WHEN + 3_600.5 * n, UTC)
        price = calc_price(usage, "claude-sonnet-4-5", provider_id="anthropic", genai_request_timestamp=when)
        expected[event_id] = price.total_price
    assert stored == expected


async def test_an_event_is_sent_as_recorded(tmp_path, pricings):
    """With the collector away the spool holds the lines as sent: the fields given, the time to the stored
    millisecond, no cost; nothing was priced."""
    spool = tmp_path / "spool.jsonl"
    async with tracking.Tracker("http://127.0.0.1:9", api_key=KEYS["writer"], spool=spool) as tracker:
        tracker.record(provider="anthropic", model="claude-sonnet-4-5", input_tokens=2200, output_tokens=41,
                       cache_write_tokens=900, cache_write_1h_tokens=300, room_id="!a:x", agent="scribe",
                       ts=2_149_239_664.25, event_id="as-recorded", reservation="ab" * 16)  # fmt: skip
        tracker.record(provider="openai", model="gpt-4o", input_tokens=12, metadata={"tool": "search"},
                       ts="2031-05-06T07:08:09.010Z", event_id="slow-path", status="error")  # fmt: skip
        await tracker.flush()
    assert [json.loads(line) for line in spooled(spool)] == [
        {"event_id": "as-recorded", "ts": "2038-02-08T11:01:04.250000+00:00", "provider": "anthropic",
         "model": "claude-sonnet-4-5", "input_tokens": 2200, "output_tokens": 41, "cache_write_tokens": 900,
         "cache_write_1h_tokens": 300, "room_id": "!a:x", "agent": "scribe", "reservation": "ab" * 16},
        {"event_id": "slow-path", "ts": "2031-05-06T07:08:09.010000+00:00", "provider": "openai", "model": "gpt-4o",
         "input_tokens": 12, "status": "error", "metadata": {"tool": "search"}},
    ]  # fmt: skip
    assert pricings == []


async def test_what_the_collector_refuses_counts_as_rejected_not_duplicate(db_url, tmp_path):
    pricing = {"overrides": [{"match": "mycorp/gold-*", "input": 1_000_000_000, "output": 0}]}
    server = await UsageServer(make_config(db_url, pricing=pricing)).start()
    try:
        async with tracking.Tracker(f"http://127.0.0.1:{server.port}", api_key=KEYS["writer"],
                                    spool=tmp_path / "spool.jsonl") as tracker:  # fmt: skip
            record = tracker.record
            record(provider="openai", model="gpt-4o", input_tokens=5, room_id="!a:x", event_id="kept")
            record(provider="mycorp", model="gold-2", input_tokens=6000, room_id="!a:x", event_id="too-dear")  # 400
            record(provider="openai", model="gpt-4o", input_tokens=5, room_id="!elsewhere:x", event_id="outside")  # 403
            record(provider="openai", model="gpt-4o", input_tokens=-5, room_id="!a:x", event_id="negative")  # local
            await tracker.flush()
            record(provider="openai", model="gpt-4o", input_tokens=5, room_id="!a:x", event_id="kept")  # again
            await tracker.flush()
            stats = tracker.stats
    finally:
        await server.close()
    assert (stats.stored, stats.duplicates, stats.rejected) == (1, 1, 3)
    assert stored_count(db_url) == 1
