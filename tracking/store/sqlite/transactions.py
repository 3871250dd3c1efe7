"""Ending a transaction that failed, without hiding why it failed."""

from __future__ import annotations

import contextlib
import sqlite3

import aiosqlite


async def rollback(conn: aiosqlite.Connection) -> None:
    """ROLLBACK after a failure, keeping the failure. A task cancelled while awaiting COMMIT may find the
    transaction committed already; the ROLLBACK's own error must not replace the cancellation, or the
    task would carry on as if it had failed an ordinary write (and never stop)."""
    with contextlib.suppress(sqlite3.Error):
        await conn.execute("ROLLBACK")
