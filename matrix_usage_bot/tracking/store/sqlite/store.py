"""The SQLite store (aiosqlite): WAL, numbered migrations, idempotent inserts, rollups per slot and day."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import aiosqlite

from ...fields import COST_SUMS, EVENT_COLUMNS, SUMS
from ...slots import LocalRun
from ..advice import AdviceReadsMixin
from ..base import (
    SPLIT,
    Filters,
    StoreError,
    Sums,
)
from ..batch import RowBatch, aggregate, prepare_batch
from ..bookkeeping import BookkeepingMixin
from ..changes import Changes
from ..erasure import ErasureMixin
from ..forget import ForgetMixin
from ..metrics import MetricsMixin
from ..planning import events_query, rollup_query, where_clause
from ..reservations import ReservationsMixin
from ..room_quotas import RoomQuotasMixin
from ..schema import LATEST, SQLITE, check_store, upgrade
from ..tables import TablesMixin
from .changes import SQLiteChanges, add_rollups
from .reads import StoppableReads
from .transactions import rollback, stopped

_EVENT_SUM_COLUMNS = ", ".join(
    f"sum(coalesce({s.name}, 0) / {SPLIT}), sum(coalesce({s.name}, 0) % {SPLIT})" if s.name in COST_SUMS
    else s.over_events
    for s in SUMS
)  # fmt: skip
INSERT_EVENTS = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' for _ in EVENT_COLUMNS)})"
"""A row of every event column (EVENT_COLUMNS order); `INSERT_NEW_EVENTS` is how the store writes them."""
INSERT_NEW_EVENTS = INSERT_EVENTS + " ON CONFLICT (room_id, event_id) DO NOTHING"
"""An event whose id its room already holds is not inserted again (the cursor's rowcount counts the new ones)."""


WAL_CHECKPOINT_PAGES = 8000
"""Pages (4 KiB) the WAL grows to before a commit copies it into the database (SQLite's default: 1,000). A commit
of 1,000 events writes some 3,000 index and rollup pages once the database holds 100,000 events, so with the
default every commit copied its pages back and synced the database file; with several commits in the WAL a page
each of them changed is copied once. Measured on 200,000 events of bench/data.py, 1,000 a transaction: 60 to 49
µs of CPU per event, 179 to 62 µs of wall time. The WAL file then stays at about 32 MiB (or a commit more);
32,000 pages gained nothing more."""


def _is_locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc).lower() or "busy" in str(exc).lower()
    )


class SQLiteStore(RoomQuotasMixin, BookkeepingMixin, ReservationsMixin, TablesMixin, MetricsMixin, AdviceReadsMixin,
                  ErasureMixin, ForgetMixin):
    """One connection to a usage database. Open it with `await SQLiteStore.open(path)`."""

    def __init__(self, path: str, conn: aiosqlite.Connection) -> None:
        self.path = path
        self._conn = conn
        self._write_lock = asyncio.Lock()
        self.reads = StoppableReads(conn)

    @classmethod
    async def open(cls, path: str, *, busy_timeout_ms: int = 5000, cache_kib: int = 32768) -> SQLiteStore:
        if path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        pending = aiosqlite.connect(path, isolation_level=None)
        try:
            conn = await pending
        except sqlite3.Error as exc:
            await stopped(pending)
            raise StoreError(f"cannot open the usage database {path}: {exc}") from exc
        store = cls(path, conn)
        try:
            await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            await store.reads.install()
            await store._check_and_migrate()
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = FULL")
            await conn.execute(f"PRAGMA cache_size = -{int(cache_kib)}")
            await conn.execute("PRAGMA temp_store = MEMORY")
            await conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
        except BaseException:
            await conn.close()
            raise
        return store

    async def close(self) -> None:
        await self._conn.close()

    async def _check_and_migrate(self) -> None:
        try:
            version = (await self._fetchone("PRAGMA user_version"))[0]
            tables = {r[0] for r in await self._fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a usage database (not SQLite, or corrupt): {exc}") from exc
        row = await self._fetchone("SELECT value FROM meta WHERE key = 'app'") if "meta" in tables else None
        check_store(self.path, "SQLite", tables, row and row[0], version)
        if version != LATEST:
            async with self._exclusive() as run:  # another process may be migrating: read the version inside
                version = (await self._fetchone("PRAGMA user_version"))[0]
                await upgrade(self.path, version, SQLITE, lambda sql: run(sql, ()),
                              lambda number: run(f"PRAGMA user_version = {int(number)}", ()))  # fmt: skip

    async def schema_version(self) -> int:
        return (await self._fetchone("PRAGMA user_version"))[0]

    async def insert_rows(self, rows: Sequence[tuple], rejected: Sequence[tuple[int, str, str]] = ()) -> int:
        """Insert event rows (EVENT_COLUMNS order) in one transaction; returns how many were new.

        Raises StoreError when another writer holds the database past the busy timeout.
        """
        return await self.insert_batch(prepare_batch(rows, rejected))

    async def insert_batch(self, batch: RowBatch) -> int:
        """`insert_rows` for a batch prepared with `prepare_batch`."""
        rows, rejected = batch.rows, batch.rejected
        async with self._write_lock:
            await self._begin_immediate()
            try:
                before = (await self._fetchone("SELECT coalesce(max(seq), 0) FROM events"))[0]
                cursor = await self._conn.executemany(INSERT_NEW_EVENTS, rows)
                inserted = cursor.rowcount
                if inserted == len(rows):  # the usual case: the sums computed ahead, one upsert per rollup row
                    await add_rollups(self._conn, batch.sums)
                elif inserted:  # duplicates were skipped: sum the rows really inserted
                    await self._update_rollups(before)
                if rejected:
                    await self._conn.executemany(
                        "INSERT INTO rejected_events (received_ms, reason, payload) VALUES (?, ?, ?)", rejected
                    )
                if batch.settles:
                    await self._conn.executemany("DELETE FROM reservations WHERE id = ?", [(i,) for i in batch.settles])
                await self._conn.execute("COMMIT")
            except BaseException as exc:
                await rollback(self._conn)
                if _is_locked(exc):
                    raise StoreError(f"the usage database is locked: {exc}") from exc
                if isinstance(exc, sqlite3.OperationalError) and "integer overflow" in str(exc):
                    raise OverflowError(f"a sum would pass 64 bits: {exc}") from exc
                raise
        return inserted

    async def _update_rollups(self, after_seq: int) -> None:
        """Add the events with seq > after_seq (this transaction's inserts) to every rollup table."""
        rows = await self._fetchall(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE seq > ?", (after_seq,))
        await add_rollups(self._conn, aggregate(rows))

    async def sum_rollups(self, start: int, end: int, filters: Filters, group: str | None,
                          local: Sequence[LocalRun] = ()) -> list[Sums]:  # fmt: skip
        """Totals over whole slots [start, end), one row per group value (see planning.py).

        Answered from the coarsest rollups that hold the filter and group columns; whole UTC days
        inside the span come from the daily tables, the slots around them from the slot ones.
        """
        rows = await self._fetchall(*rollup_query(start, end, filters, group, local))
        return [Sums.from_row(r) for r in rows if group is not None or r[1]]

    async def sum_events(self, start_ms: int, end_ms: int, filters: Filters, group: str | None) -> list[Sums]:
        """Totals over raw events with start_ms <= ts_ms < end_ms, one row per group value."""
        rows = await self._fetchall(*events_query(start_ms, end_ms, filters, group, _EVENT_SUM_COLUMNS))
        return [Sums.from_row(r) for r in rows if group is not None or r[1]]

    async def iter_events(self, start_ms: int, end_ms: int, filters: Filters) -> AsyncIterator[tuple]:
        """Raw event rows (EVENT_COLUMNS order) in time order."""
        where, params = where_clause("ts_ms", start_ms, end_ms, filters)
        sql = f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE {where} ORDER BY ts_ms, seq"
        async with self._conn.execute(sql, params) as cursor:
            async for row in cursor:
                yield tuple(row)

    async def oldest_event_ms(self) -> int | None:
        return (await self._fetchone("SELECT min(ts_ms) FROM events"))[0]

    async def delete_events_before(self, cutoff_ms: int, batch: int = 10_000) -> int:
        """Delete raw events older than cutoff_ms in small transactions; rollups are kept."""
        deleted = 0
        while True:
            async with self._write_lock:
                await self._conn.execute("BEGIN IMMEDIATE")
                try:
                    cursor = await self._conn.execute(
                        "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE ts_ms < ? LIMIT ?)",
                        (cutoff_ms, batch),
                    )
                    count = cursor.rowcount
                    await self._conn.execute("COMMIT")
                except BaseException:
                    await rollback(self._conn)
                    raise
            deleted += count
            if count < batch:
                return deleted

    async def _write(self, sql: str, params: Sequence) -> int:
        """One statement in its own immediate transaction; returns the number of rows changed."""
        async with self._write_lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = await self._conn.execute(sql, params)
                changed = cursor.rowcount
                await self._conn.execute("COMMIT")
            except BaseException:
                await rollback(self._conn)
                raise
        return changed

    async def _write_many(self, sql: str, rows: Sequence[Sequence]) -> None:
        async with self._write_lock:
            await self._conn.executemany(sql, rows)

    @asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[SQLiteChanges]:
        async with self._write_lock:
            await self._begin_immediate()
            try:
                yield SQLiteChanges(self._conn)
                await self._conn.execute("COMMIT")
            except BaseException:
                await rollback(self._conn)
                raise

    async def _begin_immediate(self) -> None:
        try:
            await self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _is_locked(exc):
                raise StoreError(f"the usage database is locked: {exc}") from exc
            raise

    def _changes(self) -> AbstractAsyncContextManager[Changes]:
        """An immediate transaction keeps every other writer out already; readers see it once committed."""
        return self._exclusive()

    async def last_seq(self) -> int:
        """The newest event's sequence number: a cheap way to see that new usage arrived."""
        return (await self._fetchone("SELECT coalesce(max(seq), 0) FROM events"))[0]

    async def rejected_count(self) -> int:
        return (await self._fetchone("SELECT count(*) FROM rejected_events"))[0]

    async def _fetchone(self, sql: str, params: Sequence = ()) -> tuple:
        return await self.reads.fetchone(sql, params)

    async def _fetchall(self, sql: str, params: Sequence = ()) -> list[tuple]:
        return await self.reads.fetchall(sql, params)

