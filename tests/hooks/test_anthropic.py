"""The Anthropic hook against the real SDK talking HTTP to the loopback stand-in."""

from __future__ import annotations

import gc

import anthropic
import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.hooks.anthropic import instrument_anthropic
from tests.fakes.providers import Usage

from .helpers import assert_event, stored

ARGS = {"model": "claude-sonnet-4-5", "max_tokens": 512, "messages": [{"role": "user", "content": "Say hello"}]}
# On the wire: input_tokens 1000 (uncached), cache_read 3000, cache_creation 500; 250 output with 90 thinking.
USAGE = Usage(input=4500, output=250, cache_read=3000, cache_write=500, reasoning=90)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def client_for(providers, tracker, is_async: bool):
    cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    return tracking.instrument_anthropic(cls(base_url=providers.url, api_key="k", max_retries=0), tracker)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_messages_create_normalises_cache_into_input(providers, tracker, is_async, stream):
    providers.usage = USAGE
    client = client_for(providers, tracker, is_async)
    with tracking.attribute(room_id="!r:x", thread_id="$root"):
        if is_async:
            result = await client.messages.create(**ARGS, stream=stream)
            events = [e async for e in result] if stream else []
        else:
            result = client.messages.create(**ARGS, stream=stream)
            events = list(result) if stream else []
    if stream:
        assert events[0].type == "message_start" and events[-1].type == "message_stop"
    [row] = await stored(tracker)
    assert_event(row, "anthropic", "claude-sonnet-4-5", 4500, 250, 3000, 500, 90)
    assert (row["room_id"], row["thread_id"], row["metadata"]) == ("!r:x", "$root", None)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_messages_stream_helper(providers, tracker, is_async):
    providers.usage = USAGE
    client = client_for(providers, tracker, is_async)
    if is_async:
        async with client.messages.stream(**ARGS) as stream:
            text = "".join([t async for t in stream.text_stream])
    else:
        with client.messages.stream(**ARGS) as stream:
            text = "".join(stream.text_stream)
    assert text.startswith("The stand-in")
    [row] = await stored(tracker)
    assert_event(row, "anthropic", "claude-sonnet-4-5", 4500, 250, 3000, 500, 90)


async def test_raw_stream_abandoned_halfway_keeps_usage_known_so_far(providers, tracker):
    providers.usage = USAGE
    client = client_for(providers, tracker, False)
    stream = client.messages.create(**ARGS, stream=True)
    next(stream), next(stream), next(stream)
    stream.close()
    del stream
    gc.collect()
    [row] = await stored(tracker)
    # message_start reported the whole prompt and 1 output token so far.
    assert_event(row, "anthropic", "claude-sonnet-4-5", 4500, 1, 3000, 500, 0)
    assert row["metadata"] == '{"chunks":3,"stream":"abandoned"}'


async def test_stream_helper_left_early_is_recorded_once_as_abandoned(providers, tracker):
    providers.usage = USAGE
    client = client_for(providers, tracker, True)
    async with client.messages.stream(**ARGS) as stream:
        async for _event in stream:
            break
    gc.collect()
    [row] = await stored(tracker)
    assert (row["input_tokens"], row["output_tokens"]) == (4500, 1)
    assert '"stream":"abandoned"' in row["metadata"]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_api_error_recorded(providers, tracker, is_async):
    client = client_for(providers, tracker, is_async)
    with pytest.raises(anthropic.RateLimitError):
        if is_async:
            await client.messages.create(**{**ARGS, "model": "error-429"})
        else:
            client.messages.create(**{**ARGS, "model": "error-429"})
    [row] = await stored(tracker)
    assert (row["status"], row["metadata"]) == ("error", '{"error":"RateLimitError","status_code":429}')


def test_instrumenting_twice_wraps_once(providers, tmp_path):
    with tracking.Tracker(f"sqlite:///{tmp_path / 'u.db'}") as tracker:
        client = anthropic.Anthropic(base_url=providers.url, api_key="k")
        instrument_anthropic(client, tracker)
        create = client.messages.create
        instrument_anthropic(client, tracker)
        assert client.messages.create is create
        client.messages.create(**ARGS)
        tracker.flush_sync()
        assert tracker.stats.stored == 1


# A 1-hour cache write: of the 500 written tokens, 400 with ttl "1h" (cache_creation.ephemeral_1h_input_tokens).
ONE_HOUR = Usage(input=4500, output=250, cache_read=3000, cache_write=500, reasoning=90, cache_write_1h=400)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("how", ["json", "stream", "stream-helper"])
async def test_one_hour_cache_writes(providers, tracker, is_async, how):
    providers.usage = ONE_HOUR
    client = client_for(providers, tracker, is_async)
    if how == "stream-helper" and is_async:
        async with client.messages.stream(**ARGS) as stream:
            await stream.get_final_message()
    elif how == "stream-helper":
        with client.messages.stream(**ARGS) as stream:
            stream.get_final_message()
    elif is_async:
        result = await client.messages.create(**ARGS, stream=how == "stream")
        if how == "stream":
            [e async for e in result]
    else:
        result = client.messages.create(**ARGS, stream=how == "stream")
        if how == "stream":
            list(result)
    [row] = await stored(tracker)
    got = {k: row[k] for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                               "cache_write_1h_tokens", "reasoning_tokens")}  # fmt: skip
    assert got == {"input_tokens": 4500, "output_tokens": 250, "cache_read_tokens": 3000, "cache_write_tokens": 500,
                   "cache_write_1h_tokens": 400, "reasoning_tokens": 90}  # fmt: skip
