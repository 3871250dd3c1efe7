"""A real server on loopback (port 0) over a real SQLite store, and a real aiohttp client."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from matrix_usage_bot.bot.config import Config
from matrix_usage_bot.bot.http.server import UsageServer

KEYS = {
    "admin": "admin-key-0123456789abcdef",  # all rooms, may ingest
    "reader": "reader-key-0123456789abcdef",  # !a:x only, read only
    "writer": "writer-key-0123456789abcdef",  # !a:x only, may ingest
}


def make_config(db_url: str, listen: str = "127.0.0.1:0", **sections: Any) -> Config:
    http = {
        "enabled": True,
        "listen": listen,
        "max_body_bytes": 4096,
        "keys": [
            {"name": "admin", "key": KEYS["admin"], "rooms": "all", "ingest": True},
            {"name": "reader", "key": KEYS["reader"], "rooms": ["!a:x"]},
            {"name": "writer", "key": KEYS["writer"], "rooms": ["!a:x"], "ingest": True},
        ],
        **sections.pop("http", {}),
    }
    return Config.model_validate({"storage": {"url": db_url}, "http": http, **sections})


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}"}


def stored_count(db_url: str) -> int:
    path = Path(db_url.removeprefix("sqlite:///"))
    if not path.exists():
        return 0
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]


@pytest.fixture
async def server(db_url: str) -> AsyncIterator[UsageServer]:
    srv = await UsageServer(make_config(db_url)).start()
    yield srv
    await srv.close()


@pytest.fixture
def base(server: UsageServer) -> str:
    return f"http://127.0.0.1:{server.port}"


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
