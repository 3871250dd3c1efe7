"""The PostgreSQL store (psycopg 3, async): many writers on many hosts sharing one database.

How concurrent writers stay exact and never deadlock (measured by tests/tracking/test_postgres_concurrency.py:
four processes of eight threads, 200,000 events with duplicates across processes, every rollup equal to a
GROUP BY over the raw rows):

- A batch is one transaction. Its rows are copied (COPY) straight into `events` in (room_id, event_id)
  order, inside a savepoint; an event_id is unique within its room. A batch that meets an event stored
  already, or one another transaction is inserting at the same time (the COPY waits for it), rolls the
  savepoint back and goes through a temporary table: `INSERT ... SELECT ... ORDER BY` the same order (by code
  point, `COLLATE "C"`) `ON CONFLICT (room_id, event_id) DO NOTHING RETURNING room_id, event_id` names exactly
  the events this batch added, whatever other writers do (`event_rows.py`).
- The rollups are summed in Python from those events only (all of them, usually: the sums computed ahead
  by `prepare_batch`), copied into temporary tables and added with one `INSERT ... SELECT ... ON CONFLICT
  DO UPDATE SET x = t.x + excluded.x` per table, a row-locked read-modify-write: no increment is lost.
  Every rollup key ends with a shard, and a connection writes rows of its own shard only (a session advisory
  lock on the number, from its first write until it closes): writers never wait on each other's rollup
  rows, only on an event both insert, taken in one order (room, event_id): no deadlock.
- Counters are BIGINT: a sum past 64 bits raises `bigint out of range`; the writer isolates and rejects
  the event at fault (`OverflowError`), as on SQLite. Reports sum into NUMERIC and cannot overflow.
- `reserve_if` holds a transaction-scoped advisory lock, so checks and reservations of every process
  take turns. A batch that ends reservations (events of calls that held one) takes the same lock: under
  READ COMMITTED each statement of a check sees the latest commits, and a call's reservation turning
  into its event between the check's read of the usage and its read of the reservations would count in
  neither (measured: 11 calls through a limit of 10 from two processes, before this lock). Schema
  migrations take another lock, so two processes opening a new database migrate it once.
- A lost connection fails the call with StoreError; the next call reconnects. The writer retries a batch
  until it is committed, and (room_id, event_id) makes a batch that did commit before the connection broke
  count once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from ...fields import EVENT_COLUMNS
from ...slots import LocalRun
from ..advice import AdviceReadsMixin
from ..base import Filters, StoreError, Sums
from ..batch import RowBatch, aggregate, prepare_batch
from ..bookkeeping import BookkeepingMixin
from ..changes import Changes
from ..erasure import ErasureMixin
from ..forget import ForgetMixin
from ..metrics import MetricsMixin
from ..planning import events_query, rollup_query, where_clause
from ..reservations import ReservationsMixin
from ..room_quotas import RoomQuotasMixin
from ..schema import POSTGRESQL, check_store, upgrade
from ..statements import Run
from ..tables import TablesMixin
from . import dialect
from .changes import PostgresChanges, add_rollups
from .dialect import pg, redact
from .event_rows import distinct, insert_events

_MIGRATE_LOCK, _EXCLUSIVE_LOCK = 0x7573616701, 0x7573616702
_SHARD_LOCKS = 0x75736703
"""The first key of the advisory locks that give each writing connection a shard of its own (the second is
the shard number); int4, as the two-key form takes."""
_PAGE = 5_000


class RowRefused(ValueError):
    """PostgreSQL can never store this row (bad text, a value out of range, a broken constraint)."""


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise StoreError("PostgreSQL storage needs psycopg: pip install 'matrix-usage-bot[postgres]'") from exc
    return psycopg


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class PostgresStore(RoomQuotasMixin, BookkeepingMixin, ReservationsMixin, TablesMixin, MetricsMixin, AdviceReadsMixin,
                    ErasureMixin, ForgetMixin):
    """One connection to a PostgreSQL usage database. Open it with `await PostgresStore.open(url)`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = redact(url)
        self._pg = _psycopg()
        self._conn: Any = None
        self._shard: int | None = None
        """This connection's shard, taken at its first write (readers take none)."""
        self._write_lock = asyncio.Lock()
        self._connect_lock = asyncio.Lock()

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        store = cls(url)
        await store._connection()
        return store

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _connection(self) -> Any:
        """The live connection, (re)connected and the schema checked when needed."""
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        async with self._connect_lock:
            if self._conn is not None and not self._conn.closed and not self._conn.broken:
                return self._conn
            try:
                conn = await self._pg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=10)
            except self._pg.Error as exc:
                raise StoreError(f"cannot connect to the usage database {self.path}: {_first_line(exc)}") from exc
            try:
                await self._migrate(conn)
                await conn.execute(dialect.SESSION_TABLES)
            except self._pg.Error as exc:  # no right to create tables, a broken connection, ...
                await conn.close()
                raise StoreError(f"cannot set up the usage database {self.path}: {_first_line(exc)}") from exc
            except BaseException:
                await conn.close()
                raise
            self._conn, self._shard = conn, None
            return conn

    async def _migrate(self, conn: Any) -> None:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
            cur = await conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            tables = {r[0] for r in await cur.fetchall()}
            meta: dict[str, str] = {}
            if "meta" in tables:
                cur = await conn.execute("SELECT key, value FROM meta WHERE key IN ('app', 'schema_version')")
                meta = dict(await cur.fetchall())
            version = int(meta.get("schema_version", 0))
            check_store(self.path, "PostgreSQL", tables, meta.get("app"), version)

            async def set_version(number: int) -> None:
                await conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', %s) ON CONFLICT (key)"
                                   " DO UPDATE SET value = excluded.value", (str(number),))  # fmt: skip

            await upgrade(self.path, version, POSTGRESQL, conn.execute, set_version)

    async def schema_version(self) -> int:
        return int((await self._fetchall("SELECT value FROM meta WHERE key = 'schema_version'"))[0][0])

    @asynccontextmanager
    async def _errors(self) -> AsyncIterator[None]:
        """psycopg's errors as the store's: rows it can never take, a lost or failing server."""
        errors = self._pg.errors
        try:
            yield
        except errors.NumericValueOutOfRange as exc:
            raise OverflowError(f"a sum would pass 64 bits: {_first_line(exc)}") from exc
        except (self._pg.DataError, self._pg.IntegrityError) as exc:
            raise RowRefused(_first_line(exc)) from exc
        except self._pg.OperationalError as exc:
            raise StoreError(f"the usage database {self.path} failed: {_first_line(exc)}") from exc

    async def insert_rows(self, rows: Sequence[tuple], rejected: Sequence[tuple[int, str, str]] = ()) -> int:
        """Insert event rows (EVENT_COLUMNS order) in one transaction; returns how many were new."""
        return await self.insert_batch(prepare_batch(rows, rejected))

    async def insert_batch(self, batch: RowBatch) -> int:
        """`insert_rows` for a batch prepared with `prepare_batch`."""
        rows = distinct(batch.rows)
        async with self._write_lock, self._errors():
            conn = await self._connection()
            shard = await self._own_shard(conn)
            async with conn.transaction(), conn.cursor() as cur:
                if batch.settles:  # the reservations become usage while no quota check is reading (see above)
                    await cur.execute("SELECT pg_advisory_xact_lock(%s)", (_EXCLUSIVE_LOCK,))
                inserted = 0
                if rows:
                    new = await insert_events(cur, rows)
                    inserted = len(new)
                    # when duplicates were skipped, only the events really inserted are summed
                    sums = batch.sums if inserted == len(batch.rows) else aggregate(new)
                    await add_rollups(cur, sums, shard)
                if batch.rejected:
                    await cur.executemany(
                        "INSERT INTO rejected_events (received_ms, reason, payload) VALUES (%s, %s, %s)", batch.rejected
                    )
                if batch.settles:
                    await cur.execute("DELETE FROM reservations WHERE id = ANY(%s)", (list(batch.settles),))
        return inserted

    async def _own_shard(self, conn: Any) -> int:
        """This connection's shard: the first number whose advisory lock no other session holds."""
        if self._shard is None:
            shard = 0
            while not (await (await conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                                 (_SHARD_LOCKS, shard))).fetchone())[0]:  # fmt: skip
                shard += 1
            self._shard = shard
        return self._shard

    async def sum_rollups(self, start: int, end: int, filters: Filters, group: str | None,
                          local: Sequence[LocalRun] = ()) -> list[Sums]:  # fmt: skip
        """Totals over whole slots [start, end), one row per group value (see planning.py)."""
        rows = await self._fetchall(*rollup_query(start, end, filters, group, local))
        return [Sums.from_row(r) for r in rows if group is not None or r[1]]

    async def sum_events(self, start_ms: int, end_ms: int, filters: Filters, group: str | None) -> list[Sums]:
        """Totals over raw events with start_ms <= ts_ms < end_ms, one row per group value."""
        rows = await self._fetchall(*events_query(start_ms, end_ms, filters, group, dialect.EVENT_SUM_COLUMNS))
        return [Sums.from_row(r) for r in rows if group is not None or r[1]]

    async def iter_events(self, start_ms: int, end_ms: int, filters: Filters) -> AsyncIterator[tuple]:
        """Raw event rows (EVENT_COLUMNS order) in time order, read a page at a time."""
        where, params = where_clause("ts_ms", start_ms, end_ms, filters)
        after: tuple[int, int] = (start_ms - 1, 0)
        while True:
            sql = (f"SELECT ts_ms, seq, {', '.join(EVENT_COLUMNS)} FROM events WHERE {where} AND (ts_ms, seq) > (?, ?)"
                   f" ORDER BY ts_ms, seq LIMIT {_PAGE}")  # fmt: skip
            page = await self._fetchall(sql, [*params, *after])
            for row in page:
                yield tuple(row[2:])
            if len(page) < _PAGE:
                return
            after = (page[-1][0], page[-1][1])

    async def oldest_event_ms(self) -> int | None:
        return (await self._fetchall("SELECT min(ts_ms) FROM events"))[0][0]

    async def delete_events_before(self, cutoff_ms: int, batch: int = 10_000) -> int:
        """Delete raw events older than cutoff_ms in small transactions; rollups are kept."""
        deleted = 0
        while True:
            count = await self._write(
                "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE ts_ms < ? LIMIT ?)", (cutoff_ms, batch)
            )
            deleted += count
            if count < batch:
                return deleted

    async def last_seq(self) -> int:
        """The largest sequence number: it changes when new usage arrives (with many writers, an event
        committed after a later-numbered one shows up at the next change)."""
        return int((await self._fetchall("SELECT coalesce(max(seq), 0) FROM events"))[0][0])

    async def rejected_count(self) -> int:
        return int((await self._fetchall("SELECT count(*) FROM rejected_events"))[0][0])

    async def _fetchall(self, sql: str, params: Sequence = ()) -> list[tuple]:
        for attempt in (1, 2):
            conn = await self._connection()
            try:
                async with self._errors():
                    cur = await conn.execute(pg(sql, params), params or None)
                    return list(await cur.fetchall())
            except StoreError:
                if attempt == 2 or not conn.broken:  # a read is safe to repeat on a new connection, once
                    raise
        raise AssertionError("unreachable")

    async def _write(self, sql: str, params: Sequence) -> int:
        async with self._exclusive() as run:
            return await run(sql, params)

    async def _write_many(self, sql: str, rows: Sequence[Sequence]) -> None:
        """Row by row in one transaction, not `executemany`: its pipeline, aborted by a refused row, logs a
        warning of its own ("error ignored terminating") beside the error the caller handles. Used for the small
        tables and reservations, never for events."""
        async with self._write_lock, self._errors():
            conn = await self._connection()
            async with conn.transaction(), conn.cursor() as cur:
                statement = pg(sql, rows[0] if rows else None)
                for row in rows:
                    await cur.execute(statement, row)

    def _exclusive(self) -> AbstractAsyncContextManager[Run]:
        return self._locked("SELECT pg_advisory_xact_lock(%s)", (_EXCLUSIVE_LOCK,))

    def _changes(self) -> AbstractAsyncContextManager[Changes]:
        """Every insert, update and delete of events (writers, retention) waits; reads and quota checks go on."""
        return self._locked("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE")

    @asynccontextmanager
    async def _locked(self, lock: str, params: Sequence | None = None) -> AsyncIterator[PostgresChanges]:
        """A transaction that first takes `lock`."""
        async with self._write_lock, self._errors():
            conn = await self._connection()
            async with conn.transaction(), conn.cursor() as cur:
                await cur.execute(lock, params)
                yield PostgresChanges(cur)
