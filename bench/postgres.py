"""PostgreSQL for the benchmarks: a server of our own on loopback (tests/pg.py, Debian's binaries), durable
(fsync and synchronous commit on, as in production), and the query database built into it."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from matrix_usage_bot.bot.progress import ProgressBar
from matrix_usage_bot.tracking.store import open_store
from matrix_usage_bot.tracking.store.batch import RowBatch
from tests.pg import PgServer

from . import querydb


@contextmanager
def server() -> Iterator[PgServer]:
    pg = PgServer(durable=True).start()
    try:
        yield pg
    finally:
        pg.stop()


def server_cpu_s(pg: PgServer) -> float:
    """CPU seconds the server's processes have used so far: the postmaster with every child it reaped (a
    connection's backend ends with its connection) and the children alive now (WAL writer, checkpointer, ...)."""
    postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # ended while we read
            continue
        pid, parent = int(stat.parent.name), int(fields[1])
        if pid == postmaster:
            total += sum(int(f) for f in fields[11:15])  # utime, stime, and those of the reaped children
        elif parent == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def build(url: str, events: int, days: int = querydb.DAYS, workers: int = 2, person: str | None = None) -> dict:
    """The query benchmark's database in PostgreSQL: the same events as `querydb.build` makes for SQLite (with a
    person, as they asked every other call), written through the store's own `insert_batch` (COPY, then the
    rollups), then ANALYZE."""
    end_s = time.time()
    start_s = end_s - days * 86400
    chunks = querydb.chunks_of(events, start_s, end_s, person)
    started = time.perf_counter()

    async def write(pool: multiprocessing.pool.Pool) -> None:
        store = await open_store(url)
        try:
            with ProgressBar("building the PostgreSQL database") as bar:
                for done, (rows, sums) in enumerate(querydb.made_chunks(pool, chunks), 1):
                    await store.insert_batch(RowBatch(rows, (), sums))
                    bar(min(done * querydb.CHUNK, events), events)
            await store._write("ANALYZE", ())  # type: ignore[attr-defined]
        finally:
            await store.close()

    with querydb.worker_pool(workers) as pool:
        asyncio.run(write(pool))
    return {"events": events, "days": days, "start_s": start_s, "end_s": end_s,
            "build_seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
