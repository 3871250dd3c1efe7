"""A real UsageBot (config, store, commands) on the session's Synapse, and agents recording usage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("synapse", reason="the e2e tests need matrix-synapse (the demo extra)")

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.app import UsageBot
from matrix_usage_bot.bot.config import Config
from matrix_usage_bot.tracking.retry import RetryPolicy

from ..conftest import PASSWORD, WAIT, unique
from .browser import browser  # noqa: F401  (the dashboard tests' fixture)


@dataclass
class UsageBotHandle:
    app: UsageBot
    task: asyncio.Task[None]
    config: Config

    @property
    def user_id(self) -> str:
        return self.app.matrix.user_id

    async def stop(self) -> None:
        await self.app.close()
        self.task.cancel()
        try:
            await self.task
        except (asyncio.CancelledError, Exception):
            pass


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite, or with `@BOTH_BACKENDS` (indirect parametrisation) also a fresh PostgreSQL database."""
    if getattr(request, "param", "sqlite") == "postgresql":
        return request.getfixturevalue("pg_url")
    return f"sqlite:///{tmp_path / 'usage.db'}"


BOTH_BACKENDS = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
async def make_usage_bot(
    synapse, tmp_path: Path, db_url: str
) -> AsyncIterator[Callable[..., Awaitable[UsageBotHandle]]]:
    handles: list[UsageBotHandle] = []

    async def make(*, config: Config | None = None, inviters: list[str] | None = None,
                   admins: list[str] | None = None, mindroom: bool = False, clock: Any = None,
                   **sections: Any) -> UsageBotHandle:  # fmt: skip
        if config is None:
            localpart = unique("usagebot")
            user_id, _ = await synapse.aregister_user(localpart, PASSWORD)
            config = Config.model_validate({
                "matrix": {
                    "homeserver": synapse.base_url, "user_id": user_id, "password": PASSWORD,
                    "store_path": str(tmp_path / "bot-store" / localpart),
                    "allowed_inviters": inviters or [":localhost"], "bot_admins": admins or [],
                },
                "bot": {"timezone": "Europe/Berlin"},
                "storage": {"url": db_url},
                "ingest": {"mindroom": mindroom},
                **sections,
            })  # fmt: skip
        app = await UsageBot.open(config, clock=clock, watch_interval=0.2, retry=RetryPolicy(0.2, 2.0))
        task = asyncio.create_task(app.run_forever())
        ready = asyncio.create_task(app.matrix.ready.wait())
        await asyncio.wait({task, ready}, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        handle = UsageBotHandle(app, task, config)
        handles.append(handle)
        return handle

    yield make
    for handle in handles:
        if not handle.task.done():
            await handle.stop()


@pytest.fixture
async def agents(db_url: str) -> AsyncIterator[tracking.Tracker]:
    """The agents' own process, writing to the same store as the bot."""
    async with tracking.Tracker(db_url) as tracker:
        yield tracker


def record(tracker: tracking.Tracker, room_id: str, **fields: Any) -> None:
    fields.setdefault("provider", "openai")
    fields.setdefault("model", "gpt-4o")
    tracker.record(room_id=room_id, **fields)
