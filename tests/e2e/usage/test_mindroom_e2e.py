"""Passive MindRoom collection: an agent's streamed reply is counted once, with its final usage, restarts included."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.synapse


def ai_run(input_tokens: int, output_tokens: int, cache_read: int = 0) -> dict:
    return {
        "version": 1,
        "run_id": "run-1",
        "session_id": "session-1",
        "status": "completed",
        "model": {"config": "default", "id": "gpt-4o", "provider": "openai"},
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
            "cache_read_tokens": cache_read,
            "duration": "1.25",
        },
        "context": {},
        "tools": {"count": 0},
    }


def stored(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT event_id, agent, thread_id, input_tokens, output_tokens, cache_read_tokens FROM events"
        ).fetchall()


async def wait_stored(db: Path, count: int, timeout: float = 30) -> list[tuple]:
    deadline = time.monotonic() + timeout
    while True:
        rows = stored(db) if db.exists() else []
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.1)


async def asked(make_user, make_usage_bot, db_url):
    """Alice asks in a room with the usage bot (collecting MindRoom usage) and the agent."""
    alice = await make_user("alice")
    agent = await make_user("mindroom_calculator")
    bot = await make_usage_bot(mindroom=True)
    room = await alice.room_with(bot, others=[agent])
    root = await alice.say(room, "What is 2 + 2?")
    return Path(db_url.removeprefix("sqlite:///")), alice, agent, bot, room, root


async def test_streamed_reply_counted_once_with_final_usage(make_user, make_usage_bot, db_url):
    db, alice, agent, bot, room, root = await asked(make_user, make_usage_bot, db_url)

    thread = {"rel_type": "m.thread", "event_id": root, "is_falling_back": True, "m.in_reply_to": {"event_id": root}}
    original = await agent.send(room, {
        "msgtype": "m.text", "body": "Thinking…", "m.relates_to": thread,
        "io.mindroom.stream_status": "streaming", "io.mindroom.ai_run": ai_run(100, 1),
    })  # fmt: skip
    for body, status, usage in (("4", "streaming", ai_run(150, 3)), ("4.", "completed", ai_run(1200, 30, 200))):
        await agent.send(room, {
            "msgtype": "m.text", "body": f"* {body}",
            "m.new_content": {"msgtype": "m.text", "body": body, "io.mindroom.stream_status": status,
                              "io.mindroom.ai_run": usage},
            "m.relates_to": {"rel_type": "m.replace", "event_id": original},
        })  # fmt: skip
    rows = await wait_stored(db, 1)
    assert len(rows) == 1
    event_id, agent_name, thread_id, inp, out, cache_read = rows[0]
    assert (event_id, thread_id, inp, out, cache_read) == (original, root, 1200, 30, 200)
    assert agent_name and "calculator" in agent_name

    await bot.stop()
    bot = await make_usage_bot(config=bot.config)  # re-reads history: still counted once
    barrier = await alice.say(room, "!usage")
    reply = await alice.wait_reply(room, barrier, bot.user_id)
    assert "1 call" in reply.body and "1.2k" in reply.body
    assert len(stored(db)) == 1


async def test_reply_without_usage_is_estimated_from_its_body(make_user, make_usage_bot, db_url):
    """MindRoom leaves `usage` out of ai_run when Agno reported none: output estimated from the body, input 0."""
    from tests.hooks.helpers import o200k

    db, alice, agent, bot, room, _ = await asked(make_user, make_usage_bot, db_url)
    run = ai_run(0, 0)
    del run["usage"]
    body = "Two plus two is four, as it has always been."
    sent = await agent.send(room, {"msgtype": "m.text", "body": body, "io.mindroom.stream_status": "completed",
                                   "io.mindroom.ai_run": run})  # fmt: skip
    [row] = await wait_stored(db, 1)
    assert row[0] == sent and (row[3], row[4]) == (0, o200k(body))
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT usage_source, cost_pusd > 0 FROM events").fetchall() == [("estimated", 1)]
    barrier = await alice.say(room, "!usage")
    reply = await alice.wait_reply(room, barrier, bot.user_id)
    assert "1 call estimated: no usage reported" in reply.body
