"""Joins and leaves in the bot's state: a leave after the last join forgets it, an older one does not."""

from __future__ import annotations

from matrix_usage_bot.bot.state import BotState
from matrix_usage_bot.tracking.store import open_store


async def test_a_leave_forgets_the_join_before_it_and_survives_reopen(tmp_path):
    db = f"sqlite:///{tmp_path / 'usage.db'}"
    store = await open_store(db)
    state = await BotState.load(store)
    await state.record_join("!r", 100)
    await state.record_leave("!r", 50)  # an old leave, read again from history: the join stands
    assert state.joined_ts("!r") == 100
    await state.record_leave("!r", 150)
    assert state.joined_ts("!r") is None
    await state.record_leave("!never-joined", 10)
    await store.close()

    store = await open_store(db)
    state = await BotState.load(store)
    assert state.joined_ts("!r") is None
    await state.record_join("!r", 200)
    assert state.joined_ts("!r") == 200
    await store.close()
