"""Builds (once, cached under .bench/) the query benchmark's databases: N events over 400 days.

Not through the hook: worker processes generate the calls of `bench/data.py` and turn them into
priced rows with the writer's own `recorded_to_row`; the main process inserts them with
executemany and adds them to the rollups with the store's own batch aggregation
(`tracking.store.batch.aggregate` and `ROLLUP_UPSERTS`), with the secondary indexes created at
the end. The result is the database the tracker would have written.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import multiprocessing.pool
import sqlite3
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from matrix_usage_bot.bot.progress import ProgressBar
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.rows import Recorded, recorded_to_row
from matrix_usage_bot.tracking.store import open_store
from matrix_usage_bot.tracking.store.batch import aggregate
from matrix_usage_bot.tracking.store.sqlite.rollups import ROLLUP_UPSERTS
from matrix_usage_bot.tracking.store.sqlite.store import INSERT_EVENTS

from . import common, data

DEFAULTS = Recorded._field_defaults  # a missing field takes the record's own default

DAYS = 400
CHUNK = 200_000


def make_chunk(args: tuple) -> tuple[list[tuple], dict[str, list[tuple]]]:
    """(index, count, start, end[, person]): with a person, they asked every other call (`bench.erasure`)."""
    index, count, start, end, *person = args
    w = data.world()
    pricer, fields, rows = Pricer(), Recorded._fields, []
    for j, kw in enumerate(data.calls(w, count, start, end, seed=1000 + index, offset=index * CHUNK)):
        ts_ms = int(kw["ts"] * 1000)
        kw["event_id"] = f"{ts_ms:012x}{index:06x}{j:014x}"
        if person and j % 2 == 0:
            kw["user_id"] = person[0]
        record = Recorded(**{f: kw.get(f, DEFAULTS.get(f)) for f in fields} | {"cache_write_1h_tokens": 0})
        rows.append(recorded_to_row(record, pricer, kw["ts"]))
    return rows, aggregate(rows)


def chunks_of(events: int, start_s: float, end_s: float, person: str | None = None) -> list[tuple]:
    """(index, count, start, end[, person]) of each chunk of CHUNK events, their times spread evenly over the span."""
    chunks: list[tuple] = []
    for i in range(-(-events // CHUNK)):
        count = min(CHUNK, events - i * CHUNK)
        a = start_s + (end_s - start_s) * i * CHUNK / events
        b = start_s + (end_s - start_s) * (i * CHUNK + count) / events
        chunks.append((i, count, a, b) if person is None else (i, count, a, b, person))
    return chunks


def worker_pool(workers: int) -> multiprocessing.pool.Pool:
    """Processes making chunks, started afresh rather than forked: a fork copies the calling process whole, its
    signal handlers, locks and open files with it (a test run's PostgreSQL watchdog pipe among them), and a
    worker forked from a test process once outlived the pool's SIGTERM, which held the run for ten minutes."""
    return multiprocessing.get_context("spawn").Pool(workers)


def made_chunks(pool: multiprocessing.pool.Pool, chunks: list[tuple], ahead: int = 4) -> Iterator[tuple]:
    """`make_chunk` of each chunk, in order, with at most ``ahead`` made and not yet taken: the workers wait for
    the database instead of filling memory (`pool.imap` keeps every result it is ahead by: 9.7 GB at 10M)."""
    pending: deque[multiprocessing.pool.AsyncResult] = deque()
    for chunk in chunks:
        if len(pending) >= ahead:
            yield pending.popleft().get()
        pending.append(pool.apply_async(make_chunk, (chunk,)))
    while pending:
        yield pending.popleft().get()


def build(path: Path, events: int, end_s: float | None = None, days: int = DAYS, workers: int = 2,
          person: str | None = None) -> dict:  # fmt: skip
    """The database at path with `events` events over `days` days ending at end_s (default: now); with a person,
    they asked every other call."""
    marker = path.with_name(path.name + ".json")
    if path.exists() and marker.exists():
        info = json.loads(marker.read_text())
        if info.get("events") == events and info.get("days") == days and info.get("person") == person:
            return info
    common.remove_db(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    end_s = end_s or time.time()
    start_s = end_s - days * 86400
    started = time.perf_counter()

    async def create() -> None:
        store = await open_store(f"sqlite:///{path}")
        await store.close()

    asyncio.run(create())
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetchall()
    for name, _sql in indexes:
        conn.execute(f"DROP INDEX {name}")
    chunks = chunks_of(events, start_s, end_s, person)
    with worker_pool(workers) as pool, ProgressBar(f"building {path.name}") as bar:
        for done, (rows, rollups) in enumerate(made_chunks(pool, chunks), 1):
            conn.execute("BEGIN")
            conn.executemany(INSERT_EVENTS, rows)
            for table, values in rollups.items():
                conn.executemany(ROLLUP_UPSERTS[table], values)
            conn.execute("COMMIT")
            bar(min(done * CHUNK, events), events)
    for _name, sql in indexes:
        conn.execute(sql)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    info = {
        "events": events,
        "days": days,
        "start_s": start_s,
        "end_s": end_s,
        "build_seconds": round(time.perf_counter() - started, 1),
        "size_mb": round(path.stat().st_size / 1e6),
        "person": person,
    }
    marker.write_text(json.dumps(info))
    print(f"  built {path} in {info['build_seconds']}s ({info['size_mb']:,} MB)", flush=True)
    return info
