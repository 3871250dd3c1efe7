"""Connection chores: ending a transaction that failed without hiding why, a failed open."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

import aiosqlite


async def rollback(conn: aiosqlite.Connection) -> None:
    """ROLLBACK after a failure, keeping the failure. A task cancelled while awaiting COMMIT may find the
    transaction committed already; the ROLLBACK's own error must not replace the cancellation, or the
    task would carry on as if it had failed an ordinary write (and never stop)."""
    with contextlib.suppress(sqlite3.Error):
        await conn.execute("ROLLBACK")


async def stopped(conn: aiosqlite.Connection) -> None:
    """Wait for the worker thread of a connection that failed to open: it answers on this event loop,
    and would print a traceback if the loop closed first (a command line exits right after the error)."""
    thread = getattr(conn, "_thread", None)
    if thread is not None and thread.is_alive():
        await asyncio.to_thread(thread.join, 5)
