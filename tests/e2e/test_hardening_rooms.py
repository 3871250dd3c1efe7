"""Rooms that try to fool the bot: spoofed upgrades, once-direct rooms, admins from the state block."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from .test_rooms import barrier, set_power

pytestmark = pytest.mark.synapse


async def tombstone(user, room: str, replacement: str) -> None:
    path = f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.tombstone/"
    await user.api("PUT", path, {"body": "This room was replaced", "replacement_room": replacement})


async def test_tombstone_from_someone_not_allowed_to_invite_is_not_followed(make_user, make_bot):
    alice, mallory = await make_user("alice"), await make_user("mallory")
    bot = await make_bot(allowed_inviters=[alice.user_id])
    room = await alice.room_with(bot, others=[mallory], room_version="11")
    await set_power(alice, room, {mallory.user_id: 100})
    decoy = await mallory.create_room(public=True, room_version="11")

    await tombstone(mallory, room, decoy)
    await barrier(alice, bot, room)

    assert decoy not in bot.bot.client.rooms
    assert bot.recorder.upgrades == []
    assert bot.bot.state.predecessors(decoy) == []


async def test_tombstone_naming_a_room_that_does_not_name_it_back_links_nothing(make_user, make_bot):
    alice = await make_user("alice")
    bot = await make_bot(allowed_inviters=[alice.user_id])
    room = await alice.room_with(bot, room_version="11")
    other = await alice.create_room(public=True, room_version="11")  # its create event names no predecessor

    await tombstone(alice, room, other)
    await alice.wait_membership(other, bot.user_id, "join")  # an allowed inviter's tombstone may be joined
    await barrier(alice, bot, other)

    assert bot.recorder.upgrades == []
    assert bot.bot.state.predecessors(other) == []
    assert bot.bot.state.pending_upgrades_to(other) == []


async def test_a_real_upgrade_is_still_followed_after_a_spoofed_one(make_user, make_bot):
    alice = await make_user("alice")
    bot = await make_bot(allowed_inviters=[alice.user_id])
    room = await alice.room_with(bot, public=True, room_version="11")
    other = await alice.create_room(public=True, room_version="11")
    await tombstone(alice, room, other)
    await alice.wait_membership(other, bot.user_id, "join")

    upgraded = await alice.api("POST", f"/_matrix/client/v3/rooms/{quote(room)}/upgrade", {"new_version": "11"})
    new_room = upgraded["replacement_room"]
    await bot.recorder.wait_until(lambda: bot.recorder.upgrades == [(room, new_room)])
    assert bot.bot.state.predecessors(new_room) == [room]
    assert bot.bot.state.predecessors(other) == []
