"""A write cancelled while its COMMIT runs stays cancelled: the task stops instead of carrying on."""

from __future__ import annotations

import asyncio

import pytest

from matrix_usage_bot.tracking.store import open_store


async def test_a_write_cancelled_during_commit_raises_cancelled_not_a_rollback_error(tmp_path):
    store = await open_store(f"sqlite:///{tmp_path / 'usage.db'}")
    loop = asyncio.get_running_loop()
    task: asyncio.Task[bool] | None = None

    def cancel_at_commit(sql: str) -> None:  # runs on the connection's thread as each statement starts
        if sql == "COMMIT" and task is not None:
            loop.call_soon_threadsafe(task.cancel)

    await store._conn.set_trace_callback(cancel_at_commit)
    task = asyncio.create_task(store.claim("command", "$x", "!r"))
    with pytest.raises(asyncio.CancelledError):
        await task
    await store._conn.set_trace_callback(None)
    assert await store.claimed("command") == ["$x"]  # the COMMIT itself went through
    assert not await store.claim("command", "$x", "!r")
    await store.close()
