"""`GET /v1/usage` over HTTP beside the same query made directly (`usage_report`), on a query database of
`bench/querydb.py`: the read half of the HTTP collector benchmark (`bench.http_collector`)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

from matrix_usage_bot.tracking.periods import parse_period
from matrix_usage_bot.tracking.queries import usage_report
from matrix_usage_bot.tracking.store import open_store

from . import common


def _busiest_room(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT room_id FROM rollup_room_daily GROUP BY room_id ORDER BY sum(calls) DESC"
                            " LIMIT 1").fetchone()[0]  # fmt: skip


async def usage_latency(db: Path, url: str, key: str, reps: int) -> dict:
    """Median and p95 ms of three reports over HTTP from the collector at `url` (serving `db`), and median ms of
    the same reports made directly on `db`."""
    room = _busiest_room(db)
    queries = {"room, month, by agent": {"period": "month", "by": "agent", "room": room},
               "every room, month, by room": {"period": "month", "by": "room"},
               "room, 30d, by day": {"period": "30d", "by": "day", "room": room}}  # fmt: skip
    results = {}
    store = await open_store(f"sqlite:///{db}")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as client:
        for name, query in queries.items():
            period = parse_period(query["period"], ZoneInfo("UTC"))
            direct, http = [], []
            for _ in range(reps + 1):
                t = time.perf_counter()
                await usage_report(store, period, group=query["by"], room_id=query.get("room"))
                direct.append(time.perf_counter() - t)
                t = time.perf_counter()
                async with client.get(f"{url}/v1/usage", params=query) as r:
                    assert r.status == 200, await r.text()
                    await r.read()
                http.append(time.perf_counter() - t)
            results[name] = {"direct_ms": common.median(direct[1:]) * 1000,
                             "http_ms": common.median(http[1:]) * 1000,
                             "http_p95_ms": common.percentile(http[1:], 95) * 1000}  # fmt: skip
    await store.close()
    return results
