"""The OpenAI hook against the real SDK talking HTTP to the loopback stand-in."""

from __future__ import annotations

import gc

import openai
import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.hooks._providers import provider_from_base_url
from matrix_usage_bot.tracking.hooks.openai import instrument_openai
from tests.fakes.providers import Usage

from .helpers import assert_event, stored

MESSAGES = [{"role": "user", "content": "Say hello"}]
USAGE = Usage(input=1500, output=420, cache_read=1024, cache_write=0, reasoning=128)


def clients(providers, tracker, is_async: bool):
    cls = openai.AsyncOpenAI if is_async else openai.OpenAI
    client = cls(base_url=providers.url + "/v1", api_key="sk-test", max_retries=0)
    return instrument_openai(client, tracker, provider="openai")


async def call(is_async: bool, fn, *args, **kwargs):
    return await fn(*args, **kwargs) if is_async else fn(*args, **kwargs)


async def consume(is_async: bool, stream) -> list:
    if is_async:
        return [item async for item in stream]
    return list(stream)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_chat_completion_exact_tokens_and_cost(providers, tracker, is_async, stream):
    providers.usage = USAGE
    client = clients(providers, tracker, is_async)
    with tracking.attribute(room_id="!r:x", agent="researcher", user_id="@alice:x"):
        result = await call(is_async, client.chat.completions.create, model="gpt-4o", messages=MESSAGES,
                            stream=stream)  # fmt: skip
        if stream:
            chunks = await consume(is_async, result)
            assert all(chunk.choices for chunk in chunks), "the usage-only chunk the hook asked for stays hidden"
            assert providers.requests[-1]["stream_options"] == {"include_usage": True}
    [row] = await stored(tracker)
    assert_event(row, "openai", "gpt-4o", 1500, 420, 1024, 0, 128)
    assert (row["room_id"], row["agent"], row["user_id"], row["status"]) == ("!r:x", "researcher", "@alice:x", "ok")
    assert row["latency_ms"] > 0 and row["metadata"] is None


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_stream_chunks_unchanged_when_caller_asked_for_usage(providers, tracker, is_async):
    plain = (openai.AsyncOpenAI if is_async else openai.OpenAI)(base_url=providers.url + "/v1", api_key="k")
    kwargs = {"model": "gpt-4o", "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}}
    without = await consume(is_async, await call(is_async, plain.chat.completions.create, **kwargs))
    client = clients(providers, tracker, is_async)
    hooked = await consume(is_async, await call(is_async, client.chat.completions.create, **kwargs))
    strip = lambda chunks: [c.model_dump(exclude={"id", "created"}) for c in chunks]  # noqa: E731
    assert strip(hooked) == strip(without) and hooked[-1].choices == [] and hooked[-1].usage is not None
    [row] = await stored(tracker)
    assert row["input_tokens"] == providers.usage.input


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_responses_api_exact_tokens_and_cost(providers, tracker, is_async, stream):
    providers.usage = Usage(input=2200, output=900, cache_read=2048, cache_write=0, reasoning=512)
    client = clients(providers, tracker, is_async)
    result = await call(is_async, client.responses.create, model="o4-mini", input="Think", stream=stream)
    if stream:
        events = await consume(is_async, result)
        assert events[-1].type == "response.completed"
    [row] = await stored(tracker)
    assert_event(row, "openai", "o4-mini", 2200, 900, 2048, 0, 512)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_stream_helpers_recorded_once(providers, tracker, is_async):
    providers.usage = USAGE
    client = clients(providers, tracker, is_async)
    kwargs = {"model": "gpt-4o", "messages": MESSAGES}
    if is_async:
        async with client.chat.completions.stream(**kwargs) as chat:
            await chat.get_final_completion()
        async with client.responses.stream(model="gpt-4o", input="hi") as resp:
            await resp.get_final_response()
    else:
        with client.chat.completions.stream(**kwargs) as chat:
            chat.get_final_completion()
        with client.responses.stream(model="gpt-4o", input="hi") as resp:
            resp.get_final_response()
    rows = await stored(tracker)
    assert [r["input_tokens"] for r in rows] == [1500, 1500]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_embeddings(providers, tracker, is_async):
    providers.usage = Usage(input=37, output=0, cache_read=0, cache_write=0, reasoning=0)
    client = clients(providers, tracker, is_async)
    result = await call(is_async, client.embeddings.create, model="text-embedding-3-small", input=["a", "b"])
    assert len(result.data) == 2
    [row] = await stored(tracker)
    assert_event(row, "openai", "text-embedding-3-small", 37, 0, 0, 0, 0)
    assert row["operation"] == "embedding"


async def test_stream_closed_halfway_is_recorded_once_as_abandoned(providers, tracker):
    client = clients(providers, tracker, False)
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    next(stream), next(stream)
    stream.close()
    stream.close()
    del stream
    gc.collect()
    [row] = await stored(tracker)
    assert row["metadata"] == '{"chunks":2,"stream":"abandoned"}' and row["status"] == "ok"
    assert row["model"] == "gpt-4o"


async def test_stream_dropped_halfway_is_recorded_when_collected(providers, tracker):
    client = clients(providers, tracker, True)
    stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    await stream.__anext__()
    del stream
    gc.collect()
    [row] = await stored(tracker)
    assert '"stream":"abandoned"' in row["metadata"]


async def test_stream_consumed_then_closed_is_recorded_once(providers, tracker):
    client = clients(providers, tracker, False)
    with client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True) as stream:
        list(stream)
    gc.collect()
    rows = await stored(tracker)
    assert len(rows) == 1 and rows[0]["metadata"] is None


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_api_error_recorded_as_error_and_raised(providers, tracker, is_async):
    client = clients(providers, tracker, is_async)
    with pytest.raises(openai.BadRequestError):
        await call(is_async, client.chat.completions.create, model="error-400", messages=MESSAGES)
    [row] = await stored(tracker)
    assert (row["status"], row["model"], row["input_tokens"]) == ("error", "error-400", 0)
    assert row["metadata"] == '{"error":"BadRequestError","status_code":400}'


async def test_hook_failure_never_breaks_the_call(providers, tmp_path):
    tracker = tracking.Tracker(f"sqlite:///{tmp_path / 'u.db'}").start()
    client = clients(providers, tracker, False)
    tracker.close()
    result = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert result.choices[0].message.content
    assert list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))


async def test_public_entry_point_takes_provider_from_base_url(providers, tracker):
    client = tracking.instrument_openai(openai.OpenAI(base_url=providers.url + "/v1", api_key="k"), tracker)
    assert tracking.instrument_openai(client, tracker) is client
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    [row] = await stored(tracker)
    assert row["provider"] == "127.0.0.1" and row["cost_pusd"] is None


@pytest.mark.parametrize(
    ("url", "provider"),
    [
        ("https://api.openai.com/v1", "openai"),
        ("https://api.cerebras.ai/v1", "cerebras"),
        ("https://api.together.xyz/v1", "together"),
        ("https://openrouter.ai/api/v1", "openrouter"),
        ("https://api.groq.com/openai/v1", "groq"),
        ("https://api.deepseek.com", "deepseek"),
        ("https://api.mistral.ai/v1", "mistral"),
        ("https://api.x.ai/v1", "x-ai"),
        ("http://localhost:11434/v1", "ollama"),
        ("http://ollama.internal:8080/v1", "ollama"),
        ("https://my-gw.example.org/v1", "my-gw.example.org"),
    ],
)
def test_provider_from_base_url(url, provider):
    assert provider_from_base_url(url) == provider


async def test_unfit_report_is_logged_once_and_kept_as_reported(providers, tracker, tmp_path, caplog):
    """A server whose reasoning_tokens exceed completion_tokens: not clamped, one warning, stored as reported."""
    import logging

    from .helpers import rejected

    providers.usage = Usage(input=100, output=50, cache_read=0, cache_write=0, reasoning=80)
    client = tracking.instrument_openai(openai.OpenAI(base_url=providers.url + "/v1", api_key="k"), tracker,
                                        provider="openai")  # fmt: skip
    caplog.set_level(logging.WARNING, logger="matrix_usage_bot.tracking.hooks")
    for _ in range(3):
        client.chat.completions.create(model="odd-reasoner", messages=[{"role": "user", "content": "hi"}])
    rows = await stored(tracker)
    assert [(r["output_tokens"], r["reasoning_tokens"]) for r in rows] == [(50, 80)] * 3
    assert rejected(tmp_path / "usage.db") == []
    warnings = [r.getMessage() for r in caplog.records if "odd-reasoner" in r.getMessage()]
    assert len(warnings) == 1 and "openai usage of openai/odd-reasoner" in warnings[0]
    assert "reasoning_tokens (80) exceed output_tokens (50)" in warnings[0]
    assert tracker.stats.rejected == 0
