"""`!usage me export` and `!usage forget me` through the real Synapse: only in a direct chat with the bot; the
file holds the sender's events of every room; after the confirmation no answer names them, both backends."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from nio import RoomMessageNotice

from .conftest import BOTH_BACKENDS, record
from .test_files_e2e import ask_file, download

pytestmark = pytest.mark.synapse
MARCH = datetime(2025, 3, 10, 9, tzinfo=UTC).timestamp()


@BOTH_BACKENDS
async def test_a_person_exports_then_erases_their_own_usage(make_user, make_usage_bot, agents):
    alice, bob = await make_user("alice"), await make_user("bob")
    bot = await make_usage_bot()
    direct = await alice.room_with(bot)
    shared, other = await alice.room_with(bot, others=[bob]), await bob.room_with(bot, others=[alice])
    for n, room in enumerate((shared, other, shared)):
        record(agents, room, agent="scout", user_id=alice.user_id, input_tokens=100 + n, output_tokens=n,
               ts=MARCH + n * 60, event_id=f"alice-{n}")  # fmt: skip
    record(agents, shared, agent="scout", user_id=bob.user_id, input_tokens=7_777, output_tokens=7, ts=MARCH,
           event_id="bob-0")  # fmt: skip
    await agents.flush()

    refused = await ask_file(alice, bot, shared, "!usage me export")
    assert isinstance(refused, RoomMessageNotice) and "direct chat" in refused.body
    export = await ask_file(alice, bot, direct, "!usage me export")
    content = export.source["content"]
    assert content["msgtype"] == "m.file" and "3 rows" in content["body"]
    rows = list(csv.DictReader(io.StringIO((await download(alice, content)).decode())))
    assert [(r["event_id"], r["room_id"], r["user_id"]) for r in rows[:-1]] == [
        ("alice-0", shared, alice.user_id), ("alice-1", other, alice.user_id), ("alice-2", shared, alice.user_id)]

    asked = await ask_file(alice, bot, direct, "!usage forget me")
    assert asked.body.startswith("Erasing you would change this: 3 events would no longer name you")
    assert "!usage forget me confirm" in asked.body
    users = await ask_file(bob, bot, shared, "!usage users 2025-03")
    assert alice.user_id in users.body  # nothing changed yet

    done = await ask_file(alice, bot, direct, "!usage forget me confirm")
    assert done.body.startswith("Erased you: 3 events no longer name you")
    users = await ask_file(bob, bot, shared, "!usage users 2025-03")
    assert alice.user_id not in users.body and bob.user_id in users.body and "7,979" in users.body  # 7,777 + 202
    mine = await ask_file(alice, bot, direct, "!usage me 2025-03")
    assert "no usage" in mine.body
