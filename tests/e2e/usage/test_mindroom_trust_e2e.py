"""Passive MindRoom collection trusts only configured agent accounts, and edits only from the original's sender."""

from __future__ import annotations

from pathlib import Path

import pytest

from matrix_usage_bot.bot.features.passive_collection import trusted_agent

from .test_mindroom_e2e import ai_run, stored, wait_stored

pytestmark = pytest.mark.synapse


def edit(original: str, usage: dict, body: str = "4.") -> dict:
    return {
        "msgtype": "m.text", "body": f"* {body}",
        "m.new_content": {"msgtype": "m.text", "body": body, "io.mindroom.stream_status": "completed",
                          "io.mindroom.ai_run": usage},
        "m.relates_to": {"rel_type": "m.replace", "event_id": original},
    }  # fmt: skip


async def barrier(alice, bot, room: str) -> None:
    cmd = await alice.say(room, "!usage")
    await alice.wait_reply(room, cmd, bot.user_id)


async def test_only_listed_agents_count_and_only_their_own_edits(make_user, make_usage_bot, db_url):
    db = Path(db_url.removeprefix("sqlite:///"))
    alice, mallory = await make_user("alice"), await make_user("mallory")
    agent, fake = await make_user("mindroom_calculator"), await make_user("mindroom_fake")
    bot = await make_usage_bot(ingest={"mindroom": True, "mindroom_agents": [agent.user_id]})
    room = await alice.room_with(bot, others=[agent, fake, mallory])

    await fake.send(room, {"msgtype": "m.text", "body": "I used a lot", "io.mindroom.ai_run": ai_run(9_999_999, 1)})
    original = await agent.send(room, {"msgtype": "m.text", "body": "…", "io.mindroom.stream_status": "streaming",
                                       "io.mindroom.ai_run": ai_run(10, 1)})  # fmt: skip
    await mallory.send(room, edit(original, ai_run(1, 0), body="hijacked"))  # would under-count and block the agent
    await agent.send(room, edit(original, ai_run(1200, 30, 200)))
    rows = await wait_stored(db, 1)
    await barrier(alice, bot, room)
    assert stored(db) == rows and len(rows) == 1
    event_id, _agent, _thread, inp, out, cache_read = rows[0]
    assert (event_id, inp, out, cache_read) == (original, 1200, 30, 200)


async def test_an_edit_by_someone_else_is_never_counted_even_after_a_restart(make_user, make_usage_bot, db_url):
    db = Path(db_url.removeprefix("sqlite:///"))
    alice, agent = await make_user("alice"), await make_user("mindroom_calculator")
    mallory = await make_user("mindroom_other")  # a trusted agent too, but not the original's sender
    bot = await make_usage_bot(mindroom=True)
    room = await alice.room_with(bot, others=[agent, mallory])
    original = await agent.send(room, {"msgtype": "m.text", "body": "…", "io.mindroom.stream_status": "streaming",
                                       "io.mindroom.ai_run": ai_run(10, 1)})  # fmt: skip
    await barrier(alice, bot, room)
    await bot.stop()
    bot = await make_usage_bot(config=bot.config)  # the original's sender is no longer in memory: asked of the server
    await mallory.send(room, edit(original, ai_run(1, 0), body="hijacked"))
    await barrier(alice, bot, room)
    assert stored(db) == []
    await agent.send(room, edit(original, ai_run(500, 5)))
    rows = await wait_stored(db, 1)
    assert [(r[0], r[3], r[4]) for r in rows] == [(original, 500, 5)]


@pytest.mark.parametrize(
    ("sender", "entries", "trusted"),
    [
        ("@mindroom_calc:example.org", [], True),
        ("@mindroom_calc:evil.example", [], False),  # same localpart, another server
        ("@alice:example.org", [], False),
        ("@mindroom_calc:agents.example", [":agents.example"], True),
        ("@alice:agents.example", [":agents.example"], False),
        ("@mindroom_calc:example.org", ["@mindroom_c*:example.org"], True),
        ("@mindroom_calc:example.org", ["@mindroom_x*:example.org"], False),
    ],
)
def test_trusted_agent_accounts(sender, entries, trusted):
    assert trusted_agent(sender, entries, "mindroom_", "example.org") is trusted
