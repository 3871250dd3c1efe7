"""Usage that genai-prices prices apart from plain input and output, through `Tracker.record()` into the store:
reasoning billed at its own rate, and audio or image input on a model that also prices cached audio.

Expected costs are genai-prices' `calc_price` of the provider's own usage keys at the event's timestamp.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from genai_prices import Usage, calc_price

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.pricing import pico_to_usd

TS = datetime(2026, 3, 4, 9, 15, 27, 250_000, tzinfo=UTC)


async def record_one(tmp_path: Path, **fields: object) -> tuple[int, int, int]:
    db = tmp_path / "usage.db"
    async with tracking.Tracker(f"sqlite:///{db}") as tracker:
        tracker.record(ts=TS, **fields)
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT cost_pusd, input_cost_pusd, output_cost_pusd FROM events").fetchone()


def genai(provider: str, model: str, **usage: int) -> tuple[Decimal, Decimal]:
    price = calc_price(Usage(**usage), model, provider_id=provider, genai_request_timestamp=TS)
    return price.total_price, price.output_price


async def test_reasoning_is_priced_at_its_own_rate(tmp_path):
    """Perplexity's sonar-deep-research bills reasoning at $3 a million against $8 for the rest of the output."""
    cost, _, output = await record_one(tmp_path, provider="perplexity", model="sonar-deep-research",
                                       input_tokens=4100, output_tokens=2900, reasoning_tokens=2300)  # fmt: skip
    total, output_price = genai("perplexity", "sonar-deep-research", input_tokens=4100, output_tokens=2900,
                                output_reasoning_tokens=2300)  # fmt: skip
    assert total == Decimal("0.0082") + Decimal("0.0048") + Decimal("0.0069")  # 600 at $8, 2,300 at $3
    assert (pico_to_usd(cost), pico_to_usd(output)) == (total, output_price)


async def test_reasoning_priced_as_output_where_no_rate_of_its_own(tmp_path):
    cost, _, _ = await record_one(tmp_path, provider="openai", model="gpt-5", input_tokens=4100, output_tokens=2900,
                                  reasoning_tokens=2300)  # fmt: skip
    assert pico_to_usd(cost) == genai("openai", "gpt-5", input_tokens=4100, output_tokens=2900)[0]


async def test_audio_input_with_cache_reads_on_a_model_pricing_cached_audio(tmp_path):
    """gemini-2.5-flash prices cached audio apart: genai-prices wants the cached audio stated. The store keeps the
    cache reads without their modality, so they are priced as text cache reads (cached audio 0), never unpriced."""
    cost, _, _ = await record_one(tmp_path, provider="google", model="gemini-2.5-flash", input_tokens=9000,
                                  output_tokens=400, cache_read_tokens=2000, input_audio_tokens=3000,
                                  input_image_tokens=500)  # fmt: skip
    total, _ = genai("google", "gemini-2.5-flash", input_tokens=9000, output_tokens=400, cache_read_tokens=2000,
                     input_audio_tokens=3000, input_image_tokens=500, cache_audio_read_tokens=0,
                     cache_image_read_tokens=0)  # fmt: skip
    assert cost is not None and pico_to_usd(cost) == total
