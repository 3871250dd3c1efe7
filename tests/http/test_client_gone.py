"""A request's work stops when its client goes away (README: HTTP API, bounded work).

The store's rollup tables are replaced by views over an endless recursive query, so a report never
ends on its own: nothing here depends on how fast the machine is. A client asks for a report and
leaves while the store is running it; the store must see its query stopped, and the server must
go on answering on the same store connection.
"""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.http.server import UsageServer
from matrix_usage_bot.tracking.store import open_store
from matrix_usage_bot.tracking.store.base import Filters

from .conftest import KEYS, make_config

ENDLESS = "WITH RECURSIVE forever(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM forever)"
REPORT = "/v1/usage?period=2026-03-01..2026-03-02&tz=UTC&by=agent"


def _endless_sqlite(path: str) -> None:
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                              " AND name LIKE 'rollup%'")]  # fmt: skip
        for table in tables:
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            conn.execute(f"DROP TABLE {table}")
            conn.execute(f"CREATE VIEW {table} AS {ENDLESS} SELECT {', '.join(f'n AS {c}' for c in columns)}"
                         " FROM forever")  # fmt: skip


def _endless_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                                              " AND tablename LIKE 'rollup%'")]  # fmt: skip
        for table in tables:
            columns = conn.execute("SELECT column_name, data_type FROM information_schema.columns"
                                   " WHERE table_name = %s ORDER BY ordinal_position", (table,)).fetchall()  # fmt: skip
            select = ", ".join(f"CAST(n AS {kind}) AS {name}" for name, kind in columns)
            conn.execute(f"DROP TABLE {table} CASCADE")
            conn.execute(f"CREATE VIEW {table} AS {ENDLESS.replace('SELECT 0', 'SELECT 0::bigint')}"
                         f" SELECT {select} FROM forever")  # fmt: skip


def _reports_running(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                            " AND state = 'active' AND query LIKE '%rollup%' AND pid <> pg_backend_pid()"
                            ).fetchone()[0]  # fmt: skip


async def until(condition: Callable[[], bool | Awaitable[bool]], what: str, tries: int = 600) -> None:
    """Polls (a cap on tries, not a time limit on the work: the report would never end by itself)."""
    for _ in range(tries):
        answer = condition()
        if await answer if inspect.isawaitable(answer) else answer:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


async def _leave_during_report(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {REPORT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEYS['admin']}\r\n\r\n".encode())
    await writer.drain()
    return reader, writer


@pytest.mark.timeout(120)
async def test_a_report_stops_when_its_client_leaves(store_url):
    store = await open_store(store_url)  # the schema, then its rollups made endless
    await store.close()
    sqlite = store_url.startswith("sqlite")
    if sqlite:
        _endless_sqlite(store_url.removeprefix("sqlite:///"))
    else:
        await asyncio.to_thread(_endless_postgres, store_url)
    server = await UsageServer(make_config(store_url)).start()
    try:
        reads = getattr(server.store, "reads", None)

        async def running() -> bool:
            return reads.running if sqlite else await asyncio.to_thread(_reports_running, store_url) == 1

        async def stopped() -> bool:
            return not await running()

        reader, writer = await _leave_during_report(server.port)
        await until(running, "the report started")
        writer.close()  # the client goes away while the store works on its report
        assert await reader.read() == b""  # it was told nothing
        await until(stopped, "the report stopped after its client left")
        if sqlite:
            assert reads.stopped == 1
        # the server goes on serving, on the same store connection
        health = await asyncio.open_connection("127.0.0.1", server.port)
        health[1].write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = await health[0].read()
        health[1].close()
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    finally:
        await server.close()


async def test_a_stopped_read_leaves_the_connections_other_statements_alone(tmp_path: Path):
    """Stopping one read must not abort another statement the same connection has under way (here an
    export's cursor, open between its rows): only the read whose task was cancelled stops."""
    url = f"sqlite:///{tmp_path / 'usage.db'}"
    store = await open_store(url)
    try:
        async with tracking.Tracker(url) as tracker:
            for tokens in range(101, 301):  # more than one fetch of the export (aiosqlite reads 64 rows at a time)
                tracker.record(provider="openai", model="gpt-4o", input_tokens=tokens, output_tokens=3, room_id="!a:x")
        export = store.iter_events(0, 2**62, Filters())
        first = await anext(export)
        endless = asyncio.create_task(store._fetchall(f"{ENDLESS} SELECT count(*) FROM forever"))
        await until(lambda: store.reads.running, "the endless read started")
        endless.cancel()
        with pytest.raises(asyncio.CancelledError):
            await endless
        rest = [row async for row in export]
        assert len([first, *rest]) == 200
        await until(lambda: store.reads.stopped == 1, "the endless read stopped")
        assert (await store._fetchall("SELECT count(*) FROM events")) == [(200,)]
    finally:
        await store.close()
