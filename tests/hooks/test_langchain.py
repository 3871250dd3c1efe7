"""The LangChain handler with a real ChatOpenAI (langchain-openai) talking HTTP to the loopback stand-in."""

from __future__ import annotations

import httpx
import pytest

import tracking
from tests.fakes.providers import Usage
from tracking.hooks.langchain import UsageCallbackHandler

from .helpers import assert_event, stored

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


async def test_stream_without_usage_is_flagged(providers, tracker):
    model = langchain_openai.ChatOpenAI(model="gpt-4o", base_url=providers.url + "/v1", api_key="k")
    list(model.stream("hi", config={"callbacks": [UsageCallbackHandler(tracker)]}))
    [row] = await stored(tracker)
    assert (row["input_tokens"], row["metadata"]) == (0, '{"usage":"missing"}')


async def test_error_recorded(providers, tracker):
    with pytest.raises(Exception, match="400"):
        chat(providers, "error-400").invoke("hi", config={"callbacks": [UsageCallbackHandler(tracker)]})
    [row] = await stored(tracker)
    assert (row["status"], row["model"]) == ("error", "error-400")
