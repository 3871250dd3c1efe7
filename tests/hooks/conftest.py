"""Fixtures for the hook tests: one stand-in provider server for the session, a fresh tracker per test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

# LiteLLM otherwise tries to download its price map at import (no network here: seconds of retries).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from matrix_usage_bot import tracking
from tests.fakes.providers import FakeProviders


@pytest.fixture(scope="session")
def server() -> Iterator[FakeProviders]:
    with FakeProviders() as fake:
        yield fake


@pytest.fixture
def providers(server: FakeProviders) -> Iterator[FakeProviders]:
    server.reset()
    usage = server.usage
    yield server
    server.reset()
    server.usage = usage


@pytest.fixture
async def tracker(tmp_path: Path) -> AsyncIterator[tracking.Tracker]:
    async with tracking.Tracker(f"sqlite:///{tmp_path / 'usage.db'}", flush_interval=0.01) as t:
        yield t
