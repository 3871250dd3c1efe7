"""Rooms that try to fool the bot: spoofed upgrades, once-direct rooms, admins from the state block."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web

from matrix_usage_bot.bot.matrix.events import SimpleMatrixSettings

from .conftest import PASSWORD, unique
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

    assert decoy not in bot.client.rooms
    assert bot.recorder.upgrades == []
    assert bot.state.predecessors(decoy) == []


async def test_tombstone_naming_a_room_that_does_not_name_it_back_links_nothing(make_user, make_bot):
    alice = await make_user("alice")
    bot = await make_bot(allowed_inviters=[alice.user_id])
    room = await alice.room_with(bot, room_version="11")
    other = await alice.create_room(public=True, room_version="11")  # its create event names no predecessor

    await tombstone(alice, room, other)
    await alice.wait_membership(other, bot.user_id, "join")  # an allowed inviter's tombstone may be joined
    await barrier(alice, bot, other)

    assert bot.recorder.upgrades == []
    assert bot.state.predecessors(other) == []
    assert bot.state.pending_upgrades_to(other) == []


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
    assert bot.state.predecessors(new_room) == [room]
    assert bot.state.predecessors(other) == []


class GapProxy:
    """A loopback proxy in front of Synapse that can hold the bot's next /sync and fail /messages.

    With it a test makes the homeserver deliver state in a sync's ``state`` block (a cut timeline
    whose gap cannot be fetched), as it does after an outage.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.hold = False
        self.held = asyncio.Event()
        self.release = asyncio.Event()
        self.session = aiohttp.ClientSession()
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.forward)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        await self.session.close()
        if self.runner is not None:
            await self.runner.cleanup()

    async def forward(self, request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/sync") and self.hold:
            self.held.set()
            await self.release.wait()
        if request.path.endswith("/messages") and self.hold:
            return web.json_response({"errcode": "M_UNKNOWN", "error": "unavailable"}, status=500)
        async with self.session.request(
            request.method, self.upstream + request.path_qs, headers=request.headers, data=await request.read()
        ) as resp:
            return web.Response(status=resp.status, body=await resp.read(), content_type=resp.content_type)


async def test_power_levels_in_a_syncs_state_block_refresh_the_admins(synapse, make_user, make_bot, tmp_path):
    alice, bob = await make_user("alice"), await make_user("bob")
    proxy = GapProxy(synapse.base_url)
    await proxy.start()
    try:
        localpart = unique("usagebot")
        user_id, _ = await synapse.aregister_user(localpart, PASSWORD)
        settings = SimpleMatrixSettings(
            homeserver=proxy.url, user_id=user_id, password=PASSWORD,
            store_path=tmp_path / localpart, allowed_inviters=[alice.user_id],
        )  # fmt: skip
        bot = await make_bot(settings=settings, timeline_limit=1)
        room = await alice.room_with(bot, others=[bob], room_version="11")
        await barrier(alice, bot, room)
        assert await bot.admins.admins(room) == {alice.user_id}

        proxy.hold = True
        await alice.say(room, "wake the sync in flight")
        await asyncio.wait_for(proxy.held.wait(), 30)
        await set_power(alice, room, {bob.user_id: 100})
        for n in range(3):
            await alice.say(room, f"filler {n}")
        proxy.release.set()
        await barrier(alice, bot, room)
        proxy.hold = False

        assert await bot.admins.admins(room) == {alice.user_id, bob.user_id}
    finally:
        await proxy.close()


async def test_a_direct_chat_that_others_joined_is_no_longer_direct(make_user, make_bot):
    alice, bob = await make_user("alice"), await make_user("bob")
    bot = await make_bot(allowed_inviters=[alice.user_id])
    created = await alice.client.room_create(invite=[bot.user_id], is_direct=True)
    room = created.room_id
    await alice.wait_membership(room, bot.user_id, "join")
    await barrier(alice, bot, room)
    assert bot.recorder.commands[-1].is_direct

    await alice.client.room_invite(room, bob.user_id)
    await barrier(alice, bot, room)
    assert not bot.recorder.commands[-1].is_direct  # an invited third person already sees the answers

    await bob.join(room)
    await barrier(alice, bot, room)
    assert not bot.recorder.commands[-1].is_direct
    await bob.client.room_leave(room)
    await alice.wait_membership(room, bob.user_id, "leave")
    await barrier(alice, bot, room)
    assert bot.recorder.commands[-1].is_direct
