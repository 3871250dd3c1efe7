"""The LiteLLM callback with real litellm calls to the loopback stand-in (OpenAI and Anthropic wire formats)."""

from __future__ import annotations

import litellm
import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.hooks.litellm import UsageLogger, instrument_litellm, uninstrument_litellm
from matrix_usage_bot.tracking.pricing import pico_to_usd
from tests.fakes.providers import Reply, Usage

from .helpers import assert_estimated, assert_event, prompt_json, provider_cost, stored

MESSAGES = [{"role": "user", "content": "Say hello"}]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def logger(tracker):
    logger = instrument_litellm(tracker)
    yield logger
    uninstrument_litellm(logger)


async def completion(is_async: bool, stream: bool, **kwargs):
    if stream:
        kwargs["stream_options"] = {"include_usage": True}
    if is_async:
        result = await litellm.acompletion(stream=stream, **kwargs)
        if stream:
            return [chunk async for chunk in result]
        return result
    result = litellm.completion(stream=stream, **kwargs)
    return list(result) if stream else result


async def wait_for(tracker, count: int) -> list[dict]:
    """Sync LiteLLM callbacks run on LiteLLM's logging thread; give them a moment."""
    import asyncio

    for _ in range(200):
        rows = await stored(tracker)
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.02)
    return await stored(tracker)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_openai_through_litellm(providers, tracker, logger, is_async, stream):
    providers.usage = Usage(input=1500, output=420, cache_read=1024, cache_write=0, reasoning=128)
    with tracking.attribute(room_id="!r:x", agent="summariser"):
        await completion(is_async, stream, model="openai/gpt-4o", api_base=providers.url + "/v1", api_key="k",
                         messages=MESSAGES)  # fmt: skip
    [row] = await wait_for(tracker, 1)
    assert_event(row, "openai", "gpt-4o", 1500, 420, 1024, 0, 128)
    assert (row["room_id"], row["agent"]) == ("!r:x", "summariser")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_anthropic_through_litellm_counts_cache_in_input(providers, tracker, logger, stream):
    providers.usage = Usage(input=4500, output=250, cache_read=3000, cache_write=500, reasoning=90)
    await completion(True, stream, model="anthropic/claude-sonnet-4-5", api_base=providers.url, api_key="k",
                     messages=MESSAGES, max_tokens=100)  # fmt: skip
    [row] = await wait_for(tracker, 1)
    assert_event(row, "anthropic", "claude-sonnet-4-5", 4500, 250, 3000, 500, 90)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_failure_recorded_as_error(providers, tracker, logger, is_async):
    with pytest.raises(litellm.BadRequestError):
        await completion(is_async, False, model="openai/error-400", api_base=providers.url + "/v1", api_key="k",
                         messages=MESSAGES)  # fmt: skip
    [row] = await wait_for(tracker, 1)
    assert (row["status"], row["model"]) == ("error", "error-400")


async def test_one_call_is_recorded_once_per_tracker(providers, tracker, logger, tmp_path):
    assert instrument_litellm(tracker) is logger
    litellm.callbacks.append(logger)
    async with tracking.Tracker(f"sqlite:///{tmp_path / 'other.db'}") as other:
        second = instrument_litellm(other)
        try:
            await completion(False, False, model="openai/gpt-4o", api_base=providers.url + "/v1", api_key="k",
                             messages=MESSAGES)  # fmt: skip
            await completion(True, True, model="openai/gpt-4o", api_base=providers.url + "/v1", api_key="k",
                             messages=MESSAGES)  # fmt: skip
            assert len(await wait_for(tracker, 2)) == 2
            assert len(await wait_for(other, 2)) == 2
        finally:
            uninstrument_litellm(second)
    assert isinstance(second, UsageLogger)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_anthropic_one_hour_cache_writes_through_litellm(providers, tracker, logger, stream):
    """LiteLLM keeps Anthropic's TTL breakdown in prompt_tokens_details.cache_creation_token_details."""
    providers.usage = Usage(input=4500, output=250, cache_read=3000, cache_write=500, reasoning=90, cache_write_1h=400)
    await completion(True, stream, model="anthropic/claude-sonnet-4-5", api_base=providers.url, api_key="k",
                     messages=MESSAGES, max_tokens=100)  # fmt: skip
    [row] = await wait_for(tracker, 1)
    got = [row[k] for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                            "cache_write_1h_tokens", "reasoning_tokens")]  # fmt: skip
    assert got == [4500, 250, 3000, 500, 400, 90]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_gemini_thinking_through_litellm(providers, tracker, logger, is_async, stream):
    """LiteLLM folds Gemini's thoughtsTokenCount into completion_tokens itself: nothing to add here."""
    providers.usage = Usage(input=2000, output=1500, cache_read=500, cache_write=0, reasoning=1200)
    await completion(is_async, stream, model="gemini/gemini-2.5-flash", api_base=providers.url, api_key="k",
                     messages=MESSAGES)  # fmt: skip
    [row] = await wait_for(tracker, 1)
    assert_event(row, "google", "gemini-2.5-flash", 2000, 1500, 500, 0, 1200)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_reply_without_usage_is_estimated(providers, tracker, logger, is_async, stream):
    """LiteLLM hands over an empty Usage() for a reply without usage, and its own tokenizer's count for a
    stream whose chunks had none: both are estimated as every hook estimates, and marked so."""
    text = "Hello. Bonjour. Hallo."
    providers.responder = lambda endpoint, body: Reply(text=text, no_usage=True)
    result = await completion(is_async, stream, model="openai/gpt-4o", api_base=providers.url + "/v1", api_key="k",
                              messages=MESSAGES)  # fmt: skip
    if stream:
        assert "".join(c.choices[0].delta.content or "" for c in result if c.choices) == text
        assert providers.sent[-1].usage is None
    [row] = await wait_for(tracker, 1)
    await assert_estimated(tracker, row, "openai", "gpt-4o", prompt_json(MESSAGES), text)


async def test_a_stream_with_usage_after_one_without_stays_provider(providers, tracker, logger):
    providers.responder = lambda endpoint, body: Reply(no_usage=True)
    await completion(False, True, model="openai/gpt-4o", api_base=providers.url + "/v1", api_key="k",
                     messages=MESSAGES)  # fmt: skip
    providers.responder = None
    providers.usage = Usage(input=1500, output=420, cache_read=1024, cache_write=0, reasoning=128)
    await completion(True, True, model="openai/gpt-4o", api_base=providers.url + "/v1", api_key="k",
                     messages=MESSAGES)  # fmt: skip
    rows = await wait_for(tracker, 2)
    assert sorted(row["usage_source"] for row in rows) == ["estimated", "provider"]
    assert_event(next(r for r in rows if r["usage_source"] == "provider"), "openai", "gpt-4o", 1500, 420, 1024, 0, 128)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_anthropic_web_searches_through_litellm(providers, tracker, logger, is_async, stream):
    """LiteLLM keeps Anthropic's usage.server_tool_use.web_search_requests in its Usage.server_tool_use: each
    search is billed ($10 a thousand on Claude), so a call with searches costs what genai-prices makes of the
    reply Anthropic sent."""
    usage = Usage(input=2600, output=310, cache_read=800, cache_write=0, reasoning=0, web_searches=4)
    providers.usage = usage
    await completion(is_async, stream, model="anthropic/claude-sonnet-4-5", api_base=providers.url, api_key="k",
                     messages=MESSAGES, max_tokens=400)  # fmt: skip
    [row] = await wait_for(tracker, 1)
    assert (row["input_tokens"], row["output_tokens"], row["cache_read_tokens"], row["web_searches"]) == (
        2600, 310, 800, 4)  # fmt: skip
    want = provider_cost("anthropic", "claude-sonnet-4-5", {"usage": usage.anthropic()}, row["ts_ms"])
    assert pico_to_usd(row["cost_pusd"]) == want


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(("model", "billed"), [("gemini-2.5-flash", 1), ("gemini-3-flash-preview", 3)])
async def test_gemini_grounding_searches_through_litellm(providers, tracker, logger, stream, model, billed):
    """LiteLLM counts Gemini's groundingMetadata.webSearchQueries in prompt_tokens_details.web_search_requests.
    Google bills grounding per grounded prompt on Gemini 2 ($35 a thousand prompts) and per query from Gemini 3
    ($14 a thousand queries): three queries are one billed search on gemini-2.5-flash, three on Gemini 3."""
    usage = Usage(input=1800, output=260, cache_read=0, cache_write=0, reasoning=0, web_searches=3)
    providers.usage = usage
    await completion(True, stream, model=f"gemini/{model}", api_base=providers.url, api_key="k", messages=MESSAGES)
    [row] = await wait_for(tracker, 1)
    assert (row["input_tokens"], row["output_tokens"], row["web_searches"]) == (1800, 260, billed)
    want = provider_cost("google", model, {"usageMetadata": usage.gemini()}, row["ts_ms"], web_searches=billed)
    assert pico_to_usd(row["cost_pusd"]) == want


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_gemini_modalities_through_litellm(providers, tracker, logger, stream):
    """Gemini's per-modality counts (promptTokensDetails, candidatesTokensDetails) reach LiteLLM's details:
    audio input and image output are priced at their own rates."""
    usage = Usage(input=2400, output=1700, cache_read=0, cache_write=0, reasoning=0, audio_in=900, image_out=1290)
    providers.usage = usage
    await completion(False, stream, model="gemini/gemini-2.5-flash-image", api_base=providers.url, api_key="k",
                     messages=MESSAGES)  # fmt: skip
    [row] = await wait_for(tracker, 1)
    got = (row["input_tokens"], row["output_tokens"], row["input_audio_tokens"], row["output_image_tokens"])
    assert got == (2400, 1700, 900, 1290)
    want = provider_cost("google", "gemini-2.5-flash-image", {"usageMetadata": usage.gemini()}, row["ts_ms"])
    assert pico_to_usd(row["cost_pusd"]) == want
