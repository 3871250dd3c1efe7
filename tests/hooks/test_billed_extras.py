"""Everything the provider bills, through the real SDKs against the stand-in: 1-hour cache writes, audio
tokens, web searches, each priced as `genai_prices.calc_price` prices the same usage; and a reply without
usage, estimated and marked, never 0."""

from __future__ import annotations

from decimal import Decimal

import anthropic
import openai
import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.hooks.anthropic import instrument_anthropic
from matrix_usage_bot.tracking.hooks.openai import instrument_openai
from matrix_usage_bot.tracking.pricing import pico_to_usd
from tests.fakes.providers import Reply, Usage

from .helpers import assert_estimated, expected_cost, prompt_json, stored

MESSAGES = [{"role": "user", "content": "Say hello in three languages, please."}]
TOLERANCE = Decimal("1e-9")


def openai_client(providers, tracker):
    client = openai.OpenAI(base_url=providers.url + "/v1", api_key="sk-test", max_retries=0)
    return instrument_openai(client, tracker, provider="openai")


def anthropic_client(providers, tracker):
    client = anthropic.Anthropic(base_url=providers.url, api_key="sk-ant-test", max_retries=0)
    return instrument_anthropic(client, tracker)


def cost(row) -> Decimal:
    assert row["cost_pusd"] is not None
    assert row["input_cost_pusd"] + row["output_cost_pusd"] == row["cost_pusd"]
    return pico_to_usd(row["cost_pusd"])


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_openai_audio_reply_priced_at_the_audio_rates(providers, tracker, stream):
    providers.usage = Usage(input=1000, output=300, cache_read=0, reasoning=0, audio_in=400, audio_out=250)
    client = openai_client(providers, tracker)
    result = client.chat.completions.create(model="gpt-audio", messages=MESSAGES, stream=stream)
    if stream:
        list(result)
    [row] = await stored(tracker)
    got = (row["input_tokens"], row["output_tokens"], row["input_audio_tokens"], row["output_audio_tokens"])
    assert got == (1000, 300, 400, 250) and row["usage_source"] == "provider"
    # gpt-audio: $2.5 / $10 per million text tokens, $32 / $64 per million audio tokens
    want = expected_cost("openai", "gpt-audio", 1000, 300, ts_ms=row["ts_ms"], input_audio_tokens=400,
                         output_audio_tokens=250)  # fmt: skip
    assert want == Decimal("0.0015") + Decimal("0.0128") + Decimal("0.0005") + Decimal("0.016")
    assert abs(cost(row) - want) <= TOLERANCE
    assert pico_to_usd(row["output_cost_pusd"]) == Decimal("0.0165")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_anthropic_web_searches_priced_per_search(providers, tracker, stream):
    providers.usage = Usage(input=2000, output=500, cache_read=0, reasoning=0, web_searches=3)
    client = anthropic_client(providers, tracker)
    kwargs = {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": MESSAGES}
    if stream:
        with client.messages.stream(**kwargs) as s:
            s.until_done()
    else:
        client.messages.create(**kwargs)
    [row] = await stored(tracker)
    assert (row["input_tokens"], row["output_tokens"], row["web_searches"]) == (2000, 500, 3)
    want = expected_cost("anthropic", "claude-sonnet-4-5", 2000, 500, ts_ms=row["ts_ms"], web_searches=3)
    assert want == Decimal("0.006") + Decimal("0.0075") + Decimal("0.03")  # $10 per thousand searches
    assert abs(cost(row) - want) <= TOLERANCE


async def test_anthropic_one_hour_cache_writes_priced_apart(providers, tracker):
    providers.usage = Usage(input=10_000, output=100, cache_read=1000, cache_write=4000, cache_write_1h=3000,
                            reasoning=0)  # fmt: skip
    anthropic_client(providers, tracker).messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES)
    [row] = await stored(tracker)
    assert (row["cache_write_tokens"], row["cache_write_1h_tokens"]) == (4000, 3000)
    want = expected_cost("anthropic", "claude-sonnet-4-5", 10_000, 100, 1000, 4000, row["ts_ms"],
                         cache_write_1h_tokens=3000)  # fmt: skip
    # 5,000 uncached at $3, 1,000 read at $0.30, 1,000 5-minute writes at $3.75, 3,000 1-hour writes at $6, output $15
    assert want == Decimal("0.015") + Decimal("0.0003") + Decimal("0.00375") + Decimal("0.018") + Decimal("0.0015")
    assert abs(cost(row) - want) <= TOLERANCE


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_reply_without_usage_is_estimated_never_zero(providers, tracker, stream):
    text = "Hello. Bonjour. Hallo."
    providers.responder = lambda endpoint, body: Reply(text=text, no_usage=True)
    client = openai_client(providers, tracker)
    result = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=stream)
    if stream:
        assert "".join(c.choices[0].delta.content or "" for c in result if c.choices) == text
    else:
        assert result.usage is None
    [row] = await stored(tracker)
    await assert_estimated(tracker, row, "openai", "gpt-4o", prompt_json(MESSAGES), text)


async def test_a_reply_with_usage_is_marked_provider(providers, tracker):
    with tracking.attribute(room_id="!r:x"):
        openai_client(providers, tracker).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    [row] = await stored(tracker)
    assert row["usage_source"] == "provider"
