"""Reads that stop when whoever awaits them goes away (a cancelled task: an HTTP client that left).

aiosqlite runs every statement on its connection's thread, and cancelling the task that awaits one
leaves the statement running there: a report nobody will read would hold the connection, and every
request queued behind it, until it ends. Each read runs here as one call on that thread (execute and
fetch together), marked as the running read; a progress handler, which SQLite calls every
``CHECK_EVERY`` virtual-machine instructions of the statement being executed, stops it once its task
was cancelled. A read cancelled before its turn is not run at all.

Not ``sqlite3.Connection.interrupt()``: it stops whatever the connection is running at that moment,
and keeps stopping new statements until no statement is active on the connection, so on a connection
that serves many requests (and writes) it could abort another request's read or a write. The progress
handler stops the marked read only.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import aiosqlite

CHECK_EVERY = 10_000


class _Read:
    __slots__ = ("abandoned",)

    def __init__(self) -> None:
        self.abandoned = False


class StoppableReads:
    """``fetchall`` and ``fetchone`` on one aiosqlite connection; ``stopped`` counts the reads stopped
    (or never started) because their task was cancelled, ``running`` says whether one runs now."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._running: _Read | None = None  # set and cleared on the connection's thread only
        self.stopped = 0

    async def install(self) -> None:
        await self._conn.set_progress_handler(self._stop_requested, CHECK_EVERY)

    @property
    def running(self) -> bool:
        return self._running is not None

    def _stop_requested(self) -> bool:  # SQLite asks on the connection's thread, inside a statement
        read = self._running
        return read is not None and read.abandoned

    async def fetchall(self, sql: str, params: Sequence = ()) -> list[tuple]:
        return await self._run(sql, params, lambda cursor: list(cursor.fetchall()))

    async def fetchone(self, sql: str, params: Sequence = ()) -> tuple:
        return await self._run(sql, params, lambda cursor: cursor.fetchone())

    async def _run(self, sql: str, params: Sequence, fetch: Callable[[sqlite3.Cursor], Any]) -> Any:
        read = _Read()

        def on_thread() -> Any:
            if read.abandoned:
                self.stopped += 1
                return None
            self._running = read
            try:
                cursor = self._conn._conn.execute(sql, params)
                try:
                    return fetch(cursor)
                finally:
                    cursor.close()  # no statement left active on the connection
            except sqlite3.OperationalError:
                if read.abandoned:
                    self.stopped += 1
                raise
            finally:
                self._running = None

        try:
            # aiosqlite's own way to run a call on its thread: the one way to run execute and fetch as
            # one call and mark it while it runs
            return await self._conn._execute(on_thread)
        except asyncio.CancelledError:
            read.abandoned = True
            raise
