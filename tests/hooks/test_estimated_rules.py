"""Estimates follow the provider's own rules (docs/events.md): a reply that is only tool calls counts their names
and arguments as output; an image in the request counts as the provider's per-image tokens, not as the
characters of its base64. Real SDKs against the stand-in, which answers without usage.

Per-image tokens from the providers' documentation: OpenAI (detail high) 1024 x 1024 is 765 tokens (scaled to
768 x 768: 4 tiles of 170 plus 85), 2048 x 4096 is 1,105 (scaled to 768 x 1536: 6 tiles); detail low is 85.
Anthropic: 1000 x 1000 is 1000 x 1000 / 750 = 1,333.3, 1,334 tokens.
"""

from __future__ import annotations

import json

import anthropic
import httpx
import litellm
import openai
import pytest

from matrix_usage_bot.tracking.hooks.anthropic import instrument_anthropic
from matrix_usage_bot.tracking.hooks.langchain import UsageCallbackHandler
from matrix_usage_bot.tracking.hooks.litellm import instrument_litellm, uninstrument_litellm
from matrix_usage_bot.tracking.hooks.openai import instrument_openai
from matrix_usage_bot.tracking.pricing import pico_to_usd
from tests.fakes.providers import Reply

from .helpers import assert_estimated, data_url, expected_cost, o200k, png, prompt_json, stored

ARGS = {"city": "Zürich", "unit": "celsius", "days": 3}
CALL = "get_forecast" + json.dumps(ARGS)  # the name, and the arguments as the stand-in writes them
PARSED_CALL = "get_forecast" + json.dumps(ARGS, ensure_ascii=False)  # arguments a runtime handed over parsed
TOOLS = [{"type": "function", "function": {"name": "get_forecast", "parameters": {"type": "object", "properties": {
    "city": {"type": "string"}, "unit": {"type": "string"}, "days": {"type": "integer"}}}}}]  # fmt: skip
ASK = [{"role": "user", "content": "What will the weather be in Zürich?"}]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def tool_calls_only(providers):
    providers.responder = lambda endpoint, body: Reply(tool_calls=[("get_forecast", ARGS)], no_usage=True)


def picture(width: int, height: int, detail: str | None = "high") -> tuple[list, list]:
    """A question with a PNG of that size, as sent and as the estimate reads its text (the image taken out)."""
    image_url = {"url": data_url(png(width, height))} | ({"detail": detail} if detail else {})
    content = [{"type": "text", "text": "What is in this picture?"}, {"type": "image_url", "image_url": image_url}]
    read = [{"type": "text", "text": "What is in this picture?"}, {"type": "image"}]
    return [{"role": "user", "content": content}], [{"role": "user", "content": read}]


async def assert_image_estimate(tracker, row, provider, model, read, image_tokens) -> None:
    """Input: the question's text plus the image's tokens by the provider's rule, the image part marked."""
    text = "The stand-in provider says hello. It has nothing else to say today."
    inp, out = o200k(prompt_json(read)) + image_tokens, o200k(text)
    assert (row["usage_source"], row["input_tokens"], row["input_image_tokens"], row["output_tokens"]) == (
        "estimated", inp, image_tokens, out)  # fmt: skip
    want = expected_cost(provider, model, inp, out, ts_ms=row["ts_ms"], input_image_tokens=image_tokens)
    assert pico_to_usd(row["cost_pusd"]) == want


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_openai_tool_calls_are_output(providers, tracker, stream):
    tool_calls_only(providers)
    client = instrument_openai(openai.OpenAI(base_url=providers.url + "/v1", api_key="k", max_retries=0), tracker,
                               provider="openai")  # fmt: skip
    result = client.chat.completions.create(model="gpt-4o", messages=ASK, tools=TOOLS, stream=stream)
    if stream:
        list(result)
    [row] = await stored(tracker)
    await assert_estimated(tracker, row, "openai", "gpt-4o", prompt_json(ASK, TOOLS), CALL)


@pytest.mark.parametrize(("size", "detail", "tokens"), [((1024, 1024), "high", 765), ((2048, 4096), None, 1105),
                                                        ((2048, 4096), "low", 85)])  # fmt: skip
async def test_openai_image_counts_as_its_tiles(providers, tracker, size, detail, tokens):
    providers.responder = lambda endpoint, body: Reply(no_usage=True)
    sent, read = picture(*size, detail)
    client = instrument_openai(openai.OpenAI(base_url=providers.url + "/v1", api_key="k", max_retries=0), tracker,
                               provider="openai")  # fmt: skip
    client.chat.completions.create(model="gpt-4o", messages=sent)
    [row] = await stored(tracker)
    await assert_image_estimate(tracker, row, "openai", "gpt-4o", read, tokens)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_anthropic_image_and_tool_call(providers, tracker, stream):
    """Anthropic's base64 image source (1000 x 1000: 1,334 tokens) and a tool_use block, without usage."""
    providers.responder = lambda endpoint, body: Reply(tool_calls=[("get_forecast", ARGS)], no_usage=True)
    source = {"type": "base64", "media_type": "image/png", "data": data_url(png(1000, 1000)).split(",", 1)[1]}
    sent = [{"role": "user", "content": [{"type": "image", "source": source}, {"type": "text", "text": "Where?"}]}]
    read = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Where?"}]}]
    client = instrument_anthropic(anthropic.Anthropic(base_url=providers.url, api_key="k", max_retries=0), tracker)
    result = client.messages.create(model="claude-sonnet-4-5", max_tokens=300, messages=sent, stream=stream)
    if stream:
        list(result)
    [row] = await stored(tracker)
    inp, out = o200k(prompt_json(read)) + 1334, o200k(CALL if stream else PARSED_CALL)
    assert (row["usage_source"], row["input_tokens"], row["input_image_tokens"], row["output_tokens"]) == (
        "estimated", inp, 1334, out)  # fmt: skip


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_litellm_tool_calls_and_image(providers, tracker, stream):
    logger = instrument_litellm(tracker)
    try:
        tool_calls_only(providers)
        litellm_call = {"model": "openai/gpt-4o", "api_base": providers.url + "/v1", "api_key": "k", "stream": stream}
        result = litellm.completion(messages=ASK, tools=TOOLS, **litellm_call)
        if stream:
            list(result)
        providers.responder = lambda endpoint, body: Reply(no_usage=True)
        sent, read = picture(1024, 1024)
        result = litellm.completion(messages=sent, **litellm_call)
        if stream:
            list(result)
        for _ in range(200):
            rows = await stored(tracker)
            if len(rows) == 2:
                break
    finally:
        uninstrument_litellm(logger)
    tools_row, image_row = rows
    assert (tools_row["output_tokens"], tools_row["usage_source"]) == (o200k(CALL), "estimated")
    assert tools_row["input_tokens"] == o200k(prompt_json(ASK, TOOLS))
    assert (image_row["input_tokens"], image_row["input_image_tokens"]) == (o200k(prompt_json(read)) + 765, 765)


async def test_langchain_tool_calls_are_output(providers, tracker):
    langchain_openai = pytest.importorskip("langchain_openai")
    tool_calls_only(providers)
    model = langchain_openai.ChatOpenAI(model="gpt-4o", base_url=providers.url + "/v1", api_key="k", max_retries=0,
                                        http_async_client=httpx.AsyncClient()).bind_tools(TOOLS)  # fmt: skip
    reply = model.invoke(ASK[0]["content"], config={"callbacks": [UsageCallbackHandler(tracker)]})
    assert reply.tool_calls and not reply.content
    [row] = await stored(tracker)
    await assert_estimated(tracker, row, "openai", "gpt-4o", prompt_json(ASK), PARSED_CALL)


@pytest.mark.parametrize("mode", ["run", "run-stream"])
async def test_agno_tool_calls_and_images(providers, tracker, mode):
    from agno.agent import Agent
    from agno.media import Image
    from agno.models.openai import OpenAIChat

    def get_forecast(city: str, unit: str, days: int) -> str:
        """The weather to come."""
        return "sunny"

    def respond(endpoint, body):
        if any(m.get("role") == "tool" for m in body["messages"]):
            return Reply(text="Sunny.", no_usage=True)
        return Reply(tool_calls=[("get_forecast", ARGS)], no_usage=True)

    providers.responder = respond
    agent = Agent(name="Forecaster", model=OpenAIChat(id="gpt-4.1", base_url=providers.url + "/v1", api_key="k"),
                  tools=[get_forecast])  # fmt: skip
    from matrix_usage_bot.tracking.hooks.agno import instrument_agno

    instrument_agno(agent, tracker, provider="openai")
    images = [Image(content=png(2048, 4096))]
    if mode == "run":
        agent.run("Forecast?", images=images)
    else:
        list(agent.run("Forecast?", images=images, stream=True))
    first, second = await stored(tracker)
    assert (first["output_tokens"], first["input_image_tokens"], second["output_tokens"]) == (
        o200k(CALL), 1105, o200k("Sunny."))  # fmt: skip
    assert second["input_image_tokens"] == 1105  # the image is sent again with the tool's result


async def test_a_reservation_counts_an_image_by_the_same_rule(providers, tmp_path):
    """Under a hard quota a call reserves its estimated input: a 1024 x 1024 image holds 765 tokens (its base64,
    176,294 characters, would hold some 44,000 and be refused by a 5,000-token quota)."""
    from matrix_usage_bot import tracking
    from matrix_usage_bot.tracking.settings import QuotaSettings, QuotaSpec

    quotas = QuotaSettings(defaults=[QuotaSpec(scope="room", window="daily", limit="5k", hard=True)],
                           reserve_output_tokens=100)  # fmt: skip
    sent, _ = picture(1024, 1024)
    async with tracking.Tracker(f"sqlite:///{tmp_path / 'usage.db'}", quotas=quotas) as tracker:
        client = instrument_openai(openai.OpenAI(base_url=providers.url + "/v1", api_key="k", max_retries=0),
                                   tracker, enforce=True, provider="openai")  # fmt: skip
        with tracking.attribute(room_id="!r:x"):
            client.chat.completions.create(model="gpt-4o", messages=sent, max_tokens=100)
    assert len(providers.requests) == 1
