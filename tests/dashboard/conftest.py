"""A real HTTP server on loopback over a real store with the usage of two rooms, and a real client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.config import Config
from matrix_usage_bot.bot.http.server import UsageServer

from ..http.conftest import base, client  # noqa: F401  (the HTTP API tests' fixtures, on this server)

KITCHEN, CELLAR = "!kitchen:example.org", "!cellar:example.org"
NASTY = '<script>alert("x")</script>'
RTL = "סוכן & 'מחקר'"
MARCH = [  # (room, agent, provider, model, input, output, day, hour UTC, extra)
    (KITCHEN, NASTY, "openai", "gpt-4o", 12_000, 800, 2, 9, {"latency_ms": 640}),
    (KITCHEN, NASTY, "openai", "gpt-4o", 3_000, 150, 2, 10, {"latency_ms": 910, "status": "error"}),
    (KITCHEN, RTL, "openai", "gpt-4o-mini", 40_000, 2_000, 17, 14, {"user_id": "@dora:example.org"}),
    (KITCHEN, RTL, "local", "home-brew-7b", 900, 90, 17, 15, {"usage_source": "estimated"}),
    (KITCHEN, "planner", "openai", "gpt-4o-mini", 5_500, 700, 30, 22, {"thread_id": "$plan-thread"}),
    (CELLAR, "intruder", "openai", "gpt-4o", 777_777, 7_777, 17, 14, {"user_id": "@mallory:example.org"}),
]  # fmt: skip


def when(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, 5, tzinfo=UTC)


def dashboard_config(db_url: str, **sections: Any) -> Config:
    return Config.model_validate({
        "storage": {"url": db_url}, "bot": {"timezone": "Europe/Berlin"},
        "http": {"enabled": True, "listen": "127.0.0.1:0", "public_url": "http://127.0.0.1:1",
                 "keys": [{"name": "admin", "key": "admin-key-0123456789abcdef", "rooms": "all"}]},
        "quotas": {"defaults": [{"scope": "room", "window": "monthly", "limit": "2m"}],
                   "everywhere": [{"scope": "global", "window": "monthly", "limit": "$500"}]},
        **sections,
    })  # fmt: skip


@pytest.fixture
async def recorded(db_url: str) -> str:
    async with tracking.Tracker(db_url) as tracker:
        for room, agent, provider, model, tokens_in, tokens_out, day, hour, extra in MARCH:
            tracker.record(room_id=room, agent=agent, provider=provider, model=model, input_tokens=tokens_in,
                           output_tokens=tokens_out, ts=when(day, hour), **extra)  # fmt: skip
        await tracker.flush()
    return db_url


@pytest.fixture
async def server(recorded: str) -> AsyncIterator[UsageServer]:
    srv = await UsageServer(dashboard_config(recorded)).start()
    yield srv
    await srv.close()

