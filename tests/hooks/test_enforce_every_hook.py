"""Enforcement from the config in every hook, and reservations that hold under concurrency, across processes.

A tracker built with `Tracker.from_config` and `quotas.enforce: true` refuses, in every runtime, a call
that a hard quota has no room for, before any request reaches the stand-in; fifty concurrent calls
against a quota with room for ten let exactly ten through, in one process and split across two.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anthropic
import httpx
import litellm
import openai
import pytest
import yaml

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.hooks.agno import instrument_agno
from matrix_usage_bot.tracking.hooks.langchain import UsageCallbackHandler
from matrix_usage_bot.tracking.hooks.litellm import instrument_litellm, uninstrument_litellm
from tests.fakes.providers import Usage

MESSAGES = [{"role": "user", "content": "Say hello"}]
# A call reserves its input estimated at four characters a token of the request's JSON, plus max_tokens:
REQUEST_TOKENS = -(-len(json.dumps([MESSAGES])) // 4)
MAX_TOKENS = 90
PER_CALL = REQUEST_TOKENS + MAX_TOKENS


def config(tmp_path: Path, limit: int, url: str | None = None, **quotas) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({
        "storage": {"url": url or f"sqlite:///{tmp_path / 'usage.db'}"},
        "quotas": {"enforce": True, "reserve_output_tokens": MAX_TOKENS, **quotas,
                   "defaults": [{"scope": "room", "window": "daily", "limit": str(limit), "hard": True}]},
    }))  # fmt: skip
    return path


REFUSAL = "this room's daily token budget is used up"


async def refused_after_one(providers, call, runtime: str) -> None:
    """The first call fits; it uses the quota up; the second is refused before reaching the stand-in."""
    with tracking.attribute(room_id="!r:x"):
        await call()
        sent = len(providers.requests)
        assert sent >= 1
        if runtime == "agno":  # Agno turns a model's exception into a failed run, its way of failing a call
            run = await call()
            assert str(run.status.value).lower() == "error" and REFUSAL in str(run.content)
        else:
            with pytest.raises(tracking.QuotaExceeded, match=REFUSAL):
                await call()
        assert len(providers.requests) == sent


@pytest.mark.parametrize("runtime", ["openai", "anthropic", "litellm", "langchain", "agno"])
async def test_every_hook_refuses_from_the_config_alone(providers, tmp_path, runtime):
    providers.usage = Usage(input=600, output=400, cache_read=0, cache_write=0, reasoning=0)
    with tracking.Tracker.from_config(config(tmp_path, 1000), flush_interval=0.01) as tracker:

        async def settled(result):
            await tracker.flush()
            return result

        if runtime == "openai":
            sdk = openai.AsyncOpenAI(base_url=providers.url + "/v1", api_key="k", max_retries=0)
            client = tracking.instrument_openai(sdk, tracker, provider="openai")

            async def call():
                return await settled(await client.chat.completions.create(model="gpt-4o", messages=MESSAGES))
        elif runtime == "anthropic":
            client = tracking.instrument_anthropic(anthropic.AsyncAnthropic(base_url=providers.url, api_key="k",
                                                                            max_retries=0), tracker)  # fmt: skip

            async def call():
                reply = await client.messages.create(model="claude-sonnet-4-5", max_tokens=50, messages=MESSAGES)
                return await settled(reply)
        elif runtime == "litellm":
            logger = instrument_litellm(tracker)

            async def call():
                reply = await litellm.acompletion(model="openai/gpt-4o", api_base=providers.url + "/v1", api_key="k",
                                                  messages=MESSAGES)  # fmt: skip
                for _ in range(100):  # LiteLLM logs on its own schedule
                    await tracker.flush()
                    if (await tracker.check_quota(room_id="!r:x")).used:
                        break
                    await asyncio.sleep(0.05)
                return reply
        elif runtime == "langchain":
            langchain_openai = pytest.importorskip("langchain_openai")
            model = langchain_openai.ChatOpenAI(model="gpt-4o", base_url=providers.url + "/v1", api_key="k",
                                                max_retries=0, http_async_client=httpx.AsyncClient())  # fmt: skip

            async def call():
                return await settled(await model.ainvoke("hi", config={"callbacks": [UsageCallbackHandler(tracker)]}))
        else:
            from agno.agent import Agent
            from agno.models.openai import OpenAIChat

            agent = Agent(name="solo", model=OpenAIChat(id="gpt-4o", base_url=providers.url + "/v1", api_key="k",
                                                        max_retries=0))  # fmt: skip
            instrument_agno(agent, tracker, provider="openai")

            async def call():
                return await settled(await agent.arun("hi"))

        try:
            await refused_after_one(providers, call, runtime)
        finally:
            if runtime == "litellm":
                uninstrument_litellm(logger)


async def fifty_calls(providers, tracker: tracking.Tracker, count: int) -> list[BaseException | None]:
    client = tracking.instrument_openai(openai.AsyncOpenAI(base_url=providers.url + "/v1", api_key="k", max_retries=0),
                                        tracker, provider="openai")  # fmt: skip

    async def one() -> BaseException | None:
        try:
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=MAX_TOKENS)
        except tracking.QuotaExceeded as exc:
            return exc
        return None

    with tracking.attribute(room_id="!r:x"):
        return await asyncio.gather(*(one() for _ in range(count)))


async def test_fifty_concurrent_calls_let_exactly_ten_through(providers, tmp_path, store_url):
    providers.usage = Usage(input=REQUEST_TOKENS, output=MAX_TOKENS, cache_read=0, cache_write=0, reasoning=0)
    with tracking.Tracker.from_config(config(tmp_path, 10 * PER_CALL, store_url), flush_interval=0.01) as tracker:
        outcomes = await fifty_calls(providers, tracker, 50)
    assert len(providers.requests) == 10
    assert sum(o is None for o in outcomes) == 10 and all(isinstance(o, tracking.QuotaExceeded) for o in outcomes if o)


WORKER = textwrap.dedent("""
    import asyncio, sys, os
    sys.path.insert(0, {root!r})
    from matrix_usage_bot import tracking
    from tests.hooks.test_enforce_every_hook import fifty_calls

    class Providers:
        url = {url!r}

    async def main():
        with tracking.Tracker.from_config({config!r}, flush_interval=0.01) as tracker:
            if {crash!r}:
                with tracking.attribute(room_id="!r:x"):
                    tracker.reserve_sync(provider="openai", model="gpt-4o", input_tokens={limit!r}, max_output_tokens=0)
                os._exit(3)  # a caller that dies with its reservation held
            outcomes = await fifty_calls(Providers, tracker, 25)
            print(sum(o is None for o in outcomes))

    asyncio.run(main())
""")


def worker(providers, path: Path, crash: bool = False, limit: int = 0) -> subprocess.Popen:
    root = str(Path(__file__).resolve().parents[2])
    script = WORKER.format(root=root, url=providers.url, config=str(path), crash=crash, limit=limit)
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


async def test_two_processes_sharing_the_store_let_exactly_ten_through(providers, tmp_path, store_url):
    providers.usage = Usage(input=REQUEST_TOKENS, output=MAX_TOKENS, cache_read=0, cache_write=0, reasoning=0)
    path = config(tmp_path, 10 * PER_CALL, store_url)
    with tracking.Tracker.from_config(path, flush_interval=0.01) as tracker:
        other = worker(providers, path)
        mine = await fifty_calls(providers, tracker, 25)
        out, err = await asyncio.to_thread(other.communicate, timeout=120)
    assert other.returncode == 0, err
    assert len(providers.requests) == 10
    assert sum(o is None for o in mine) + int(out.strip()) == 10


async def test_a_crashed_callers_reservation_is_released_when_it_expires(providers, tmp_path, store_url):
    path = config(tmp_path, 10 * PER_CALL, store_url, reservation_timeout_s=60)
    crashed = worker(providers, path, crash=True, limit=10 * PER_CALL)
    _, err = await asyncio.to_thread(crashed.communicate, timeout=120)
    assert crashed.returncode == 3, err
    now = datetime.now(UTC)
    with tracking.Tracker.from_config(path, flush_interval=0.01, clock=lambda: now) as tracker:
        with pytest.raises(tracking.QuotaExceeded, match="with calls under way"):
            await fifty_calls_one(providers, tracker)
        assert providers.requests == []
    later = now + timedelta(seconds=61)
    with tracking.Tracker.from_config(path, flush_interval=0.01, clock=lambda: later) as tracker:
        await fifty_calls_one(providers, tracker)
    assert len(providers.requests) == 1


async def fifty_calls_one(providers, tracker) -> None:
    [outcome] = await fifty_calls(providers, tracker, 1)
    if outcome is not None:
        raise outcome
