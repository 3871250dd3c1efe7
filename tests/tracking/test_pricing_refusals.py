"""Reports genai-prices refuses (parts above their whole, an overlap it must price apart but is not told): the
call is stored unpriced, never $0 or below, logged once per provider, model and reason without a traceback;
where the counts fix the overlap anyway, the call is priced exactly, as `calc_price` prices the stated split."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN

import pytest
from genai_prices import Usage, calc_price

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking import price_fit

TS = datetime(2026, 2, 17, 16, 41, 9, 730_000, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fresh_notes(monkeypatch):
    monkeypatch.setattr(price_fit, "_refusals_noted", set())


async def costs(tmp_path, calls: list[dict]) -> list[int | None]:
    db = tmp_path / "usage.db"
    async with tracking.Tracker(f"sqlite:///{db}") as tracker:
        for n, call in enumerate(calls):
            tracker.record(ts=TS, event_id=f"call-{n}", **call)
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT cost_pusd FROM events ORDER BY event_id")]


def pico(provider: str, model: str, **usage: int) -> int:
    usd = calc_price(Usage(**usage), model, provider_id=provider, genai_request_timestamp=TS).total_price
    return int((usd * 10**12).to_integral_value(rounding=ROUND_HALF_EVEN))


def notes(caplog) -> list[logging.LogRecord]:
    """The notes of refused usage, and any record with a traceback."""
    return [r for r in caplog.records if r.exc_info or "genai-prices cannot price" in r.getMessage()]


async def test_parts_above_their_whole_are_unpriced_and_logged_once_per_model_and_reason(tmp_path, caplog):
    claude = {"provider": "anthropic", "model": "claude-sonnet-4-5", "output_tokens": 310}
    calls = [
        {**claude, "input_tokens": 8_000, "cache_write_tokens": 700, "cache_write_1h_tokens": 1_900},
        {**claude, "input_tokens": 5_000, "cache_write_tokens": 100, "cache_write_1h_tokens": 250},
        {**claude, "input_tokens": 600, "cache_read_tokens": 900, "cache_write_1h_tokens": 0},
    ]
    with caplog.at_level(logging.WARNING):
        assert await costs(tmp_path, calls) == [None, None, None]
    logged = notes(caplog)
    assert [r.getMessage() for r in logged] == [
        "genai-prices cannot price a call of anthropic/claude-sonnet-4-5 as reported (Invalid usage data:"
        " cache_write_1h_tokens (1900) cannot exceed cache_write_tokens (700)); stored unpriced (logged once per"
        " provider, model and reason)",
        "genai-prices cannot price a call of anthropic/claude-sonnet-4-5 as reported (Invalid usage data:"
        " cache_read_tokens (900) cannot exceed input_tokens (600)); stored unpriced (logged once per provider,"
        " model and reason)",
    ]
    assert not any(r.exc_info for r in logged)


async def test_cache_above_input_is_unpriced_after_a_fitting_call_too(tmp_path, caplog):
    """The first fitting call gives gpt-4o's per-token prices; a later report with cache reads above its input
    used to be priced with them, below $0 (input $2.50 a million, cache reads $1.25 off it)."""
    gpt = {"provider": "openai", "model": "gpt-4o", "output_tokens": 80}
    with caplog.at_level(logging.WARNING):
        got = await costs(tmp_path, [{**gpt, "input_tokens": 4_000, "cache_read_tokens": 1_000},
                                     {**gpt, "input_tokens": 150, "cache_read_tokens": 2_000}])  # fmt: skip
    assert got == [pico("openai", "gpt-4o", input_tokens=4_000, output_tokens=80, cache_read_tokens=1_000), None]
    assert [r.getMessage().split(" as reported")[0] for r in notes(caplog)] == [
        "genai-prices cannot price a call of openai/gpt-4o"]


async def test_cached_audio_is_priced_exactly_where_the_counts_fix_it(tmp_path, caplog):
    """gemini-2.5-flash prices cached audio apart. Every input token a cache read: all the audio was cached;
    every input token audio: all the cache reads were audio. Otherwise (cache reads and audio that exceed the
    input together, each less than all of it) how much audio was cached is not known: unpriced."""
    gemini = {"provider": "google", "model": "gemini-2.5-flash", "output_tokens": 120}
    calls = [
        {**gemini, "input_tokens": 900, "cache_read_tokens": 900, "input_audio_tokens": 250},
        {**gemini, "input_tokens": 400, "cache_read_tokens": 150, "input_audio_tokens": 400},
        {**gemini, "input_tokens": 1_000, "cache_read_tokens": 500, "input_audio_tokens": 600},
        {**gemini, "input_tokens": 1_000, "cache_read_tokens": 300, "input_audio_tokens": 600},
    ]
    with caplog.at_level(logging.WARNING):
        got = await costs(tmp_path, calls)
    assert got == [
        pico("google", "gemini-2.5-flash", input_tokens=900, output_tokens=120, cache_read_tokens=900,
             input_audio_tokens=250, cache_audio_read_tokens=250),
        pico("google", "gemini-2.5-flash", input_tokens=400, output_tokens=120, cache_read_tokens=150,
             input_audio_tokens=400, cache_audio_read_tokens=150),
        None,
        pico("google", "gemini-2.5-flash", input_tokens=1_000, output_tokens=120, cache_read_tokens=300,
             input_audio_tokens=600, cache_audio_read_tokens=0),  # no overlap forced: audio priced as uncached
    ]  # fmt: skip
    assert [r.getMessage() for r in notes(caplog)] == [
        "genai-prices cannot price a call of google/gemini-2.5-flash as reported (Invalid usage data: more-specific"
        " usage for cache_read_tokens, input_audio_tokens totals 1100, which exceeds input_tokens (1000)); stored"
        " unpriced (logged once per provider, model and reason)"]


async def test_whatif_and_savings_price_such_a_call_as_the_writer_does(tmp_path):
    """Re-pricing sums calls where per-token prices cost them exactly; a call with cache reads above its input
    is read one by one instead, so on another model it is unpriced too (counted apart), never priced below $0."""
    from matrix_usage_bot.tracking.advice import savings, whatif
    from matrix_usage_bot.tracking.periods import parse_period
    from matrix_usage_bot.tracking.pricing import Pricer
    from matrix_usage_bot.tracking.store import open_store

    gpt = {"provider": "openai", "model": "gpt-4o", "output_tokens": 80, "room_id": "!r:x", "agent": "a"}
    assert await costs(tmp_path, [{**gpt, "input_tokens": 4_000, "cache_read_tokens": 1_000},
                                  {**gpt, "input_tokens": 150, "cache_read_tokens": 2_000}]) == [
        pico("openai", "gpt-4o", input_tokens=4_000, output_tokens=80, cache_read_tokens=1_000), None]  # fmt: skip
    store = await open_store(f"sqlite:///{tmp_path / 'usage.db'}")
    try:
        period = parse_period("2026-02", datetime.now(UTC).tzinfo)
        on_mini = await whatif(store, Pricer(), period, ["!r:x"], "gpt-4o-mini")
        saved = await savings(store, Pricer(), period, ["!r:x"])
    finally:
        await store.close()
    mini = pico("openai", "gpt-4o-mini", input_tokens=4_000, output_tokens=80, cache_read_tokens=1_000)
    totals = on_mini.totals
    assert (totals.calls, totals.unpriced_calls, totals.whatif_pusd, totals.whatif_unpriced_calls) == (2, 1, mini, 1)
    plain = pico("openai", "gpt-4o", input_tokens=4_000, output_tokens=80)
    made = pico("openai", "gpt-4o", input_tokens=4_000, output_tokens=80, cache_read_tokens=1_000)
    assert (saved.totals.saved_pusd, saved.totals.unpriced_calls) == (plain - made, 1)


async def test_a_call_read_one_by_one_is_counted_once_where_its_neighbours_are_too(tmp_path):
    """Prices of a fraction of a pico-dollar a token price a group's calls one by one, read again from its
    cell: the call with cache above input, read one by one already, is not among them a second time."""
    from decimal import Decimal

    from matrix_usage_bot.tracking.advice import whatif
    from matrix_usage_bot.tracking.periods import parse_period
    from matrix_usage_bot.tracking.pricing import PriceOverride, Pricer
    from matrix_usage_bot.tracking.store import open_store

    gpt = {"provider": "openai", "model": "gpt-4o", "output_tokens": 80, "room_id": "!r:x", "agent": "a"}
    await costs(tmp_path, [{**gpt, "input_tokens": 4_000, "cache_read_tokens": 1_000},
                           {**gpt, "input_tokens": 150, "cache_read_tokens": 2_000}])  # fmt: skip
    pricer = Pricer([PriceOverride(match="test/fraction", input=Decimal("0.1234567"), output=Decimal("0.7654321"))])
    store = await open_store(f"sqlite:///{tmp_path / 'usage.db'}")
    try:
        result = await whatif(store, pricer, parse_period("2026-02", UTC), ["!r:x"], "test/fraction")
    finally:
        await store.close()
    each = [tokens_in * 123_456_700 // 1000 + 80 * 765_432_100 // 1000 for tokens_in in (4_000, 150)]  # whole here
    assert (result.totals.calls, result.totals.whatif_pusd, result.totals.whatif_unpriced_calls) == (2, sum(each), 0)
