"""Encrypted rooms, and restarts: resume from the saved sync token, answer nothing twice."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from nio import MegolmEvent, RoomMessageNotice

pytestmark = pytest.mark.synapse


async def test_encrypted_room_command_and_answer(make_user, make_bot):
    alice = await make_user("alice")
    bot = await make_bot(allowed_inviters=[alice.user_id])
    room = await alice.room_with(bot, encrypted=True)

    cmd = await alice.say(room, "!usage secret")
    raw = await alice.api("GET", f"/_matrix/client/v3/rooms/{quote(room)}/event/{quote(cmd)}")
    assert raw["type"] == "m.room.encrypted"  # really sent encrypted

    reply = await alice.wait_reply(room, cmd, bot.user_id)
    assert isinstance(reply, RoomMessageNotice) and reply.decrypted
    assert reply.body == "answer to !usage secret"
    assert reply.source["content"]["formatted_body"] == "<b>answer</b> to !usage secret"
    assert not any(isinstance(ev, MegolmEvent) for _, ev in alice.seen)  # everything decrypted

    [ctx] = bot.recorder.commands
    assert ctx.encrypted and ctx.body == "!usage secret"


async def test_restart_answers_missed_command_exactly_once(make_user, make_bot):
    alice = await make_user("alice")
    first = await make_bot(allowed_inviters=[alice.user_id])
    room = await alice.room_with(first, encrypted=True)

    old = await alice.say(room, "!usage before restart")
    await alice.wait_reply(room, old, first.user_id)
    await first.stop()

    missed = await alice.say(room, "!usage while down")
    for i in range(8):  # more than the restarted bot's timeline limit: its first sync is cut
        await alice.say(room, f"agent chatter {i}")

    second = await make_bot(settings=first.settings, timeline_limit=3)
    reply = await alice.wait_reply(room, missed, second.user_id)
    assert reply.body == "answer to !usage while down"
    barrier = await alice.say(room, "!usage barrier")
    await alice.wait_reply(room, barrier, second.user_id)

    assert second.recorder.bodies() == ["!usage while down", "!usage barrier"]
    seen = [content.get("body") for _, _, _, content, _ in second.recorder.contents]
    assert seen[:9] == ["!usage while down"] + [f"agent chatter {i}" for i in range(8)]
    assert "!usage before restart" not in seen  # resumed from the saved sync token
    replies = [
        ev
        for r, ev in alice.seen
        if r == room
        and ev.sender == first.user_id
        and isinstance(ev, RoomMessageNotice)
        and ev.body == "answer to !usage while down"
    ]
    assert len(replies) == 1


async def test_commands_older_than_grace_are_not_answered(make_user, make_bot):
    alice = await make_user("alice")
    first = await make_bot(allowed_inviters=[alice.user_id])
    room = await alice.room_with(first)
    await first.stop()
    await alice.say(room, "!usage sent while down")

    second = await make_bot(settings=first.settings, grace_seconds=0)
    barrier = await alice.say(room, "!usage barrier")
    await alice.wait_reply(room, barrier, second.user_id)
    assert second.recorder.bodies() == ["!usage barrier"]


async def test_is_direct_on_the_invite_does_not_make_a_shared_room_direct(make_user, make_bot):
    alice = await make_user("alice")
    bob = await make_user("bob")
    bot = await make_bot(allowed_inviters=[alice.user_id])
    resp = await alice.client.room_create(is_direct=True, invite=[bot.user_id, bob.user_id])
    room = resp.room_id
    await bob.join(room)
    await alice.wait_membership(room, bot.user_id, "join")
    cmd = await alice.say(room, "!usage me")
    await alice.wait_reply(room, cmd, bot.user_id)
    [ctx] = bot.recorder.commands
    assert not ctx.is_direct  # three members: cross-room answers here would reach bob
