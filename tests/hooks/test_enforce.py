"""enforce=True: a used-up hard quota stops the call before it reaches the provider, until the next period."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import anthropic
import openai
import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.settings import QuotaSettings, QuotaSpec
from tests.fakes.providers import Usage

MESSAGES = [{"role": "user", "content": "Say hello"}]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_hard_quota_blocks_before_the_request_and_reopens_next_period(providers, tmp_path: Path, is_async):
    providers.usage = Usage(input=600, output=400, cache_read=0, cache_write=0, reasoning=0)
    clock = Clock(datetime(2026, 6, 30, 20, tzinfo=UTC))
    quotas = QuotaSettings(defaults=[QuotaSpec(scope="agent", name="coder", window="daily", limit="2k", hard=True)],
                           reserve_output_tokens=400)  # a call holds its input and 400 tokens of output  # fmt: skip
    url = f"sqlite:///{tmp_path / 'usage.db'}"
    async with tracking.Tracker(url, quotas=quotas, timezone="Europe/Berlin", clock=clock,
                                flush_interval=0.01) as tracker:  # fmt: skip
        cls = openai.AsyncOpenAI if is_async else openai.OpenAI
        client = tracking.instrument_openai(
            cls(base_url=providers.url + "/v1", api_key="k", max_retries=0), tracker, enforce=True, provider="openai"
        )

        async def ask():
            result = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            return await result if is_async else result

        with tracking.attribute(room_id="!r:x", agent="coder"):
            await ask()
            await ask()  # 2,000 tokens: the quota is used up
            await tracker.flush()
            sent = len(providers.requests)
            with pytest.raises(tracking.QuotaExceeded) as info:
                await ask()
            assert len(providers.requests) == sent == 2  # refused before any request
            assert info.value.resets.date().isoformat() == "2026-07-01" and info.value.used == 2000
            with tracking.attribute(agent="writer"):
                await ask()  # another agent is not limited by coder's quota
            clock.now = datetime(2026, 6, 30, 22, 30, tzinfo=UTC)  # 00:30 on 1 July in Berlin
            await ask()
            assert len(providers.requests) == 4


async def test_anthropic_hook_enforces_too(providers, tmp_path: Path):
    providers.usage = Usage(input=600, output=400, cache_read=0, cache_write=0, reasoning=0)  # $0.0078
    quotas = QuotaSettings(defaults=[QuotaSpec(scope="room", window="monthly", limit="$0.001", hard=True)])
    async with tracking.Tracker(f"sqlite:///{tmp_path / 'u.db'}", quotas=quotas, flush_interval=0.01) as tracker:
        client = tracking.instrument_anthropic(
            anthropic.AsyncAnthropic(base_url=providers.url, api_key="k", max_retries=0), tracker, enforce=True
        )
        with tracking.attribute(room_id="!r:x"):
            await client.messages.create(model="claude-sonnet-4-5", max_tokens=50, messages=MESSAGES)
            await tracker.flush()
            with pytest.raises(tracking.QuotaExceeded, match="this room's monthly dollar budget is used up"):
                await client.messages.create(model="claude-sonnet-4-5", max_tokens=50, messages=MESSAGES)
        assert len(providers.requests) == 1
