"""The LangChain handler with a real ChatOpenAI (langchain-openai) talking HTTP to the loopback stand-in."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from langchain_core.language_models import LangSmithParams
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatResult
from pydantic import Field

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.hooks.langchain import UsageCallbackHandler, usage_counts
from matrix_usage_bot.tracking.pricing import pico_to_usd
from tests.fakes.providers import Reply, Usage

from .helpers import assert_estimated, assert_event, prompt_json, provider_cost, stored

langchain_openai = pytest.importorskip("langchain_openai")


def chat(providers, model: str = "gpt-4o"):
    """A fresh async HTTP client per test: langchain-openai otherwise reuses one bound to a closed event loop."""
    return langchain_openai.ChatOpenAI(model=model, base_url=providers.url + "/v1", api_key="k", max_retries=0,
                                       stream_usage=True, http_async_client=httpx.AsyncClient())  # fmt: skip


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream"])
async def test_chat_model_usage_metadata(providers, tracker, mode):
    providers.usage = Usage(input=1500, output=420, cache_read=1024, cache_write=0, reasoning=128)
    model, config = chat(providers), {"callbacks": [UsageCallbackHandler(tracker)]}
    with tracking.attribute(room_id="!r:x", agent="planner"):
        if mode == "invoke":
            model.invoke("hi", config=config)
        elif mode == "ainvoke":
            await model.ainvoke("hi", config=config)
        elif mode == "stream":
            assert "".join(chunk.content for chunk in model.stream("hi", config=config)).startswith("The stand-in")
        else:
            [chunk async for chunk in model.astream("hi", config=config)]
    [row] = await stored(tracker)
    assert_event(row, "openai", "gpt-4o", 1500, 420, 1024, 0, 128)
    assert (row["room_id"], row["agent"]) == ("!r:x", "planner")


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream"])
async def test_a_reply_without_usage_is_estimated(providers, tracker, mode):
    """No `usage_metadata` (the server sent none; ChatOpenAI streams without stream_usage ask for none)."""
    text = "Hello. Bonjour. Hallo."
    providers.responder = lambda endpoint, body: Reply(text=text, no_usage=True)
    model = langchain_openai.ChatOpenAI(model="gpt-4o", base_url=providers.url + "/v1", api_key="k", max_retries=0,
                                        http_async_client=httpx.AsyncClient())  # fmt: skip
    config = {"callbacks": [UsageCallbackHandler(tracker)]}
    if mode == "invoke":
        assert model.invoke("Say hello", config=config).usage_metadata is None
    elif mode == "ainvoke":
        await model.ainvoke("Say hello", config=config)
    elif mode == "stream":
        assert "".join(chunk.content for chunk in model.stream("Say hello", config=config)) == text
    else:
        [chunk async for chunk in model.astream("Say hello", config=config)]
    [row] = await stored(tracker)
    sent = [{"role": m["role"], "content": m["content"]} for m in providers.requests[-1]["messages"]]
    assert sent == [{"role": "user", "content": "Say hello"}]
    await assert_estimated(tracker, row, "openai", "gpt-4o", prompt_json(sent), text)


async def test_error_recorded(providers, tracker):
    with pytest.raises(Exception, match="400"):
        chat(providers, "error-400").invoke("hi", config={"callbacks": [UsageCallbackHandler(tracker)]})
    [row] = await stored(tracker)
    assert (row["status"], row["model"]) == ("error", "error-400")


class ReportingModel(FakeMessagesListChatModel):
    """LangChain's own fake chat model, named like a provider integration, answering the given messages."""

    provider: str = "anthropic"
    model: str = "claude-sonnet-4-5"

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        return LangSmithParams(ls_provider=self.provider, ls_model_name=self.model, ls_model_type="chat")


# What langchain-anthropic (1.7, `_create_usage_metadata`) makes of Anthropic usage with input_tokens 1,000,
# cache_read 3,000 and cache_creation 500 split as {ephemeral_5m: 100, ephemeral_1h: 400}: the generic
# cache_creation is set to 0 and the two TTL keys carry the writes.
ANTHROPIC_1H = UsageMetadata(input_tokens=4500, output_tokens=250, total_tokens=4750,
                             input_token_details={"cache_read": 3000, "cache_creation": 0,
                                                  "ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 400},
                             output_token_details={"reasoning": 90})  # fmt: skip
# What langchain-google-genai (4.4, `_response_to_result`) makes of candidates 300 + thoughts 1,200.
GEMINI_THINKING = UsageMetadata(input_tokens=2000, output_tokens=1500, total_tokens=3500,
                                input_token_details={"cache_read": 500}, output_token_details={"reasoning": 1200})


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
async def test_anthropic_ttl_breakdown_and_gemini_thinking(tracker, mode):
    handler = UsageCallbackHandler(tracker)
    for provider, model, usage in (("anthropic", "claude-sonnet-4-5", ANTHROPIC_1H),
                                   ("google_genai", "gemini-2.5-flash", GEMINI_THINKING)):  # fmt: skip
        chat_model = ReportingModel(responses=[AIMessage(content="ok", usage_metadata=usage)], provider=provider,
                                    model=model)  # fmt: skip
        if mode == "invoke":
            chat_model.invoke("hi", config={"callbacks": [handler]})
        else:
            await chat_model.ainvoke("hi", config={"callbacks": [handler]})
    rows = {row["provider"]: row for row in await stored(tracker)}
    claude, gemini = rows["anthropic"], rows["google"]
    got = [claude[k] for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                               "cache_write_1h_tokens", "reasoning_tokens")]  # fmt: skip
    assert got == [4500, 250, 3000, 500, 400, 90]
    assert_event(gemini, "google", "gemini-2.5-flash", 2000, 1500, 500, 0, 1200)


def test_cache_writes_counted_once_whether_total_or_split_or_both():
    split = {"cache_read": 3000, "ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 400}
    for details in (split | {"cache_creation": 0}, split | {"cache_creation": 500}, {"cache_creation": 500}):
        usage = UsageMetadata(input_tokens=4500, output_tokens=250, total_tokens=4750, input_token_details=details)
        counts = usage_counts(usage)
        assert (counts.input_tokens, counts.output_tokens, counts.cache_read_tokens, counts.cache_write_tokens) == (
            4500, 250, details.get("cache_read", 0), 500)


@pytest.mark.parametrize("mode", ["invoke", "stream"])
async def test_audio_tokens_priced_at_the_audio_rates(providers, tracker, mode):
    """langchain-openai copies prompt_tokens_details.audio_tokens and completion_tokens_details.audio_tokens into
    usage_metadata's input_token_details.audio and output_token_details.audio."""
    usage = Usage(input=1700, output=520, cache_read=0, cache_write=0, reasoning=0, audio_in=650, audio_out=330)
    providers.usage = usage
    model, config = chat(providers, "gpt-audio"), {"callbacks": [UsageCallbackHandler(tracker)]}
    if mode == "invoke":
        model.invoke("hi", config=config)
    else:
        list(model.stream("hi", config=config))
    [row] = await stored(tracker)
    got = (row["input_tokens"], row["output_tokens"], row["input_audio_tokens"], row["output_audio_tokens"])
    assert got == (1700, 520, 650, 330)
    want = provider_cost("openai", "gpt-audio", {"usage": usage.openai_chat()}, row["ts_ms"], api_flavor="chat")
    assert pico_to_usd(row["cost_pusd"]) == want


class ReplyingModel(ReportingModel):
    """Answers like an integration that also hands the provider's reply over in `llm_output` (langchain-anthropic
    1.7 `_format_output`: the Message's fields but content, `usage` among them)."""

    llm_output: dict[str, Any] = Field(default_factory=dict)

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
        result = super()._generate(messages, stop, run_manager, **kwargs)
        return ChatResult(generations=result.generations, llm_output=self.llm_output)


async def test_web_searches_of_anthropic_and_gemini_grounding(tracker):
    """langchain-anthropic keeps the Message's usage (server_tool_use.web_search_requests) in llm_output;
    langchain-google-genai keeps groundingMetadata in response_metadata (web_search_queries): one grounded
    prompt on gemini-2.5-flash."""
    handler = UsageCallbackHandler(tracker)
    anthropic_usage = {"input_tokens": 1100, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0,
                       "output_tokens": 230, "server_tool_use": {"web_search_requests": 6}}  # fmt: skip
    claude = ReplyingModel(responses=[AIMessage(content="ok", usage_metadata=UsageMetadata(
        input_tokens=1100, output_tokens=230, total_tokens=1330))],
        llm_output={"id": "msg_1", "model": "claude-sonnet-4-5", "usage": anthropic_usage})  # fmt: skip
    claude.invoke("hi", config={"callbacks": [handler]})
    grounded = AIMessage(content="ok", usage_metadata=UsageMetadata(input_tokens=900, output_tokens=120,
                                                                    total_tokens=1020),
                         response_metadata={"grounding_metadata": {"web_search_queries": ["a", "b", "c"]}})  # fmt: skip
    ReportingModel(responses=[grounded], provider="google_genai", model="gemini-2.5-flash").invoke(
        "hi", config={"callbacks": [handler]})  # fmt: skip
    rows = {row["provider"]: row for row in await stored(tracker)}
    assert (rows["anthropic"]["web_searches"], rows["google"]["web_searches"]) == (6, 1)
    want = provider_cost("anthropic", "claude-sonnet-4-5", {"usage": anthropic_usage}, rows["anthropic"]["ts_ms"])
    assert pico_to_usd(rows["anthropic"]["cost_pusd"]) == want
    usage_metadata = {"promptTokenCount": 900, "candidatesTokenCount": 120}
    want = provider_cost("google", "gemini-2.5-flash", {"usageMetadata": usage_metadata}, rows["google"]["ts_ms"],
                         web_searches=1)  # fmt: skip
    assert pico_to_usd(rows["google"]["cost_pusd"]) == want
