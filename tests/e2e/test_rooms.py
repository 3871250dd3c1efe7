"""Room admins from real power levels, and following room upgrades."""

from __future__ import annotations

from urllib.parse import quote

import pytest

pytestmark = pytest.mark.synapse


async def set_power(user, room: str, levels: dict[str, int]) -> None:
    path = f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.power_levels/"
    content = await user.api("GET", path)
    content.setdefault("users", {}).update(levels)
    await user.api("PUT", path, content)


async def barrier(user, bot, room: str) -> None:
    """Returns once the bot has handled everything sent to ``room`` so far."""
    cmd = await user.say(room, "!usage barrier")
    await user.wait_reply(room, cmd, bot.user_id)


async def test_room_admins_v12_and_v11(synapse, make_user, make_bot):
    alice, bob, carol, dave = [await make_user(n) for n in ("alice", "bob", "carol", "dave")]
    bot = await make_bot(allowed_inviters=[alice.user_id])
    caps = await alice.api("GET", "/_matrix/client/v3/capabilities")
    available = caps["capabilities"]["m.room_versions"]["available"]

    if "12" in available:
        room = await alice.room_with(bot, others=[bob, carol], room_version="12")
        await set_power(alice, room, {bob.user_id: 100, carol.user_id: 50})
        await barrier(alice, bot, room)
        assert await bot.admins.admins(room) == {alice.user_id, bob.user_id}
        assert await bot.admins.is_admin(room, alice.user_id)  # creator: not in "users" at all
        assert not await bot.admins.is_admin(room, carol.user_id)

        await set_power(alice, room, {carol.user_id: 100})  # the cache follows power level changes
        await barrier(alice, bot, room)
        assert await bot.admins.admins(room) == {alice.user_id, bob.user_id, carol.user_id}

        created = await alice.api(
            "POST",
            "/_matrix/client/v3/createRoom",
            {
                "room_version": "12",
                "invite": [bot.user_id, dave.user_id],
                "creation_content": {"additional_creators": [dave.user_id]},
            },
        )
        room = created["room_id"]
        await dave.join(room)
        await alice.wait_membership(room, bot.user_id, "join")
        await barrier(alice, bot, room)
        assert await bot.admins.admins(room) == {alice.user_id, dave.user_id}

    room = await alice.room_with(bot, others=[bob, carol], room_version="11")
    await set_power(alice, room, {bob.user_id: 100, carol.user_id: 50})
    await barrier(alice, bot, room)
    assert await bot.admins.admins(room) == {alice.user_id, bob.user_id}


async def test_follows_room_upgrade(make_user, make_bot):
    alice = await make_user("alice")
    bot = await make_bot(allowed_inviters=[alice.user_id])
    room = await alice.room_with(bot, public=True, room_version="11")

    upgraded = await alice.api("POST", f"/_matrix/client/v3/rooms/{quote(room)}/upgrade", {"new_version": "12"})
    new_room = upgraded["replacement_room"]
    await bot.recorder.wait_until(lambda: bot.recorder.upgrades == [(room, new_room)])
    await alice.sync()
    await alice.join(new_room)
    await barrier(alice, bot, new_room)
