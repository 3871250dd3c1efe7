"""What hosts may do to the plugin: restart (with or without their sync token), lack E2EE, share a room."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import quote

import pytest
from nio import RoomMessageText

from matrix_usage_bot.bot.state import COMMAND

from .conftest import ask, attach_plugin, record, replies_to, wait_log

pytestmark = pytest.mark.synapse

WHOLE_TIMELINE = {"room": {"timeline": {"limit": 100}}}


async def answers_in_history(user, room: str, sender: str) -> dict[str, int]:
    """How many answers each command got, read from the room's history (plain rooms)."""
    path = f"/_matrix/client/v3/rooms/{quote(room)}/messages?dir=b&limit=1000"
    counts: dict[str, int] = {}
    for ev in (await user.api("GET", path))["chunk"]:
        replied = (ev["content"].get("m.relates_to") or {}).get("m.in_reply_to", {}).get("event_id")
        if ev["sender"] == sender and replied:
            counts[replied] = counts.get(replied, 0) + 1
    return counts


async def test_a_host_restarted_without_its_sync_token_answers_nothing_twice_and_no_history(make_user, make_host):
    alice = await make_user("alice")
    host = await make_host()
    room = await alice.create_room()
    early = await alice.say(room, "!usage asked before the host was invited")
    await alice.client.room_invite(room, host.user_id)
    await alice.wait_membership(room, host.user_id, "join")
    first = await alice.say(room, "!usage")
    await alice.wait_reply(room, first, host.user_id)
    await host.settle()
    await host.stop()

    down = await alice.say(room, "!usage sent while the host was down")
    # a new nio store: no sync token, so the first sync brings the room's whole timeline as history
    again = await make_host(user=(host.user_id, ""), sync_filter=WHOLE_TIMELINE)
    await alice.wait_reply(room, down, again.user_id)
    barrier = await alice.say(room, "!usage barrier")
    await alice.wait_reply(room, barrier, again.user_id)
    await again.settle()

    assert (room, early, "!usage asked before the host was invited") in again.seen  # it was read again
    assert await answers_in_history(alice, room, host.user_id) == {first: 1, down: 1, barrier: 1}
    assert early not in await again.plugin.store.claimed(COMMAND)


async def test_a_host_restarted_with_its_store_in_an_encrypted_room(make_user, make_host):
    alice = await make_user("alice")
    host = await make_host()
    room = await alice.room_with(host, encrypted=True)
    first = await alice.say(room, "!usage")
    await alice.wait_reply(room, first, host.user_id)
    device = host.client.device_id
    await host.settle()
    await host.stop()

    down = await alice.say(room, "!usage sent while the host was down")
    again = await make_host(user=(host.user_id, device), store=host.store_path)
    reply = await alice.wait_reply(room, down, again.user_id)
    assert reply.decrypted
    barrier = await alice.say(room, "!usage barrier")
    await alice.wait_reply(room, barrier, again.user_id)
    await again.settle()
    await alice.sync()
    assert [len(replies_to(alice, room, cmd, host.user_id)) for cmd in (first, down, barrier)] == [1, 1, 1]


async def test_a_host_without_e2ee_notes_encrypted_rooms_and_carries_on(make_user, make_host, agents, caplog):
    caplog.set_level(logging.INFO)
    alice = await make_user("alice")
    host = await make_host(e2ee=False, quotas={"defaults": [{"scope": "room", "window": "monthly", "limit": "10k"}]})
    secret = await alice.room_with(host, encrypted=True)
    plain = await alice.room_with(host)

    unreadable = await alice.say(secret, "!usage")
    await wait_log(caplog, f"{secret} is encrypted and the host's nio client has no end-to-end encryption")
    assert unreadable not in await host.plugin.store.claimed(COMMAND)
    assert (await ask(alice, host, plain, "!ping")).body == "pong"

    record(agents, secret, input_tokens=8_000, output_tokens=0)
    record(agents, plain, input_tokens=8_000, output_tokens=0)
    await agents.flush()
    warning = await alice.wait_for(
        lambda r, ev: r == plain and ev.sender == host.user_id and isinstance(ev, RoomMessageText)
    )
    assert "75% of this room's monthly token budget used: 8k of 10k tokens" in warning.body
    assert await host.plugin.watcher.check_all() == 0
    summary = await ask(alice, host, plain, "!usage")
    assert "Today: 1 call · 8k tokens" in summary.body
    path = f"/_matrix/client/v3/rooms/{quote(secret)}/messages?dir=b&limit=1000"
    sent_there = [ev for ev in (await alice.api("GET", path))["chunk"] if ev["sender"] == host.user_id
                  and ev["type"] != "m.room.member"]  # fmt: skip
    assert sent_there == []  # nothing posted there, least of all in plaintext


async def test_two_hosts_in_one_room_only_the_configured_one_answers(make_user, make_host, tmp_path):
    alice = await make_user("alice")
    first = await make_host(plugin=False)
    second = await make_host(plugin=False)
    responders = {"timezone": "Europe/Berlin", "responders": [second.user_id, first.user_id]}
    for host in (first, second):  # a usage store each: only the order decides who answers
        await attach_plugin(host, f"sqlite:///{tmp_path / host.user_id[1:10]}.db", bot=responders)
    room = await alice.room_with(second)
    await alice.client.room_invite(room, first.user_id)
    await alice.wait_membership(room, first.user_id, "join")

    cmd = await alice.say(room, "!usage")
    await alice.wait_reply(room, cmd, second.user_id)
    pongs = await alice.say(room, "!ping")
    for host in (first, second):  # both hosts keep their own commands
        await alice.wait_reply(room, pongs, host.user_id)
    await first.settle()
    await second.settle()
    assert cmd not in await first.plugin.store.claimed(COMMAND)
    assert await answers_in_history(alice, room, first.user_id) == {pongs: 1}

    await second.client.room_leave(room)  # the preferred one gone: the next on the list answers
    await alice.wait_membership(room, second.user_id, "leave")
    later = await alice.say(room, "!usage")
    await alice.wait_reply(room, later, first.user_id)


async def test_two_hosts_sharing_a_store_answer_each_command_once(make_user, make_host):
    alice = await make_user("alice")
    first, second = await make_host(), await make_host()  # the same usage store, no bot.responders
    room = await alice.room_with(first)
    await alice.client.room_invite(room, second.user_id)
    await alice.wait_membership(room, second.user_id, "join")

    commands = [await alice.say(room, f"!usage {period}") for period in ("today", "week", "month", "all", "1h")]
    barrier = await alice.say(room, "!ping")
    for host in (first, second):
        await alice.wait_reply(room, barrier, host.user_id)
    await asyncio.gather(first.settle(), second.settle())
    answers = [
        await answers_in_history(alice, room, first.user_id),
        await answers_in_history(alice, room, second.user_id),
    ]
    assert [sum(a.get(cmd, 0) for a in answers) for cmd in commands] == [1, 1, 1, 1, 1]


async def test_a_command_sent_while_the_host_was_out_of_the_room_is_not_answered_when_it_is_back(make_user, make_host):
    alice = await make_user("alice")
    host = await make_host()
    room = await alice.room_with(host)
    first_join = await alice.wait_membership(room, host.user_id, "join")
    await ask(alice, host, room, "!usage")
    await alice.client.room_kick(room, host.user_id)
    await alice.wait_membership(room, host.user_id, "leave")
    away = await alice.say(room, "!usage sent while the host was out")
    await alice.client.room_invite(room, host.user_id)
    await alice.wait_for(lambda r, ev: r == room and ev.source.get("state_key") == host.user_id
                         and ev.source["content"].get("membership") == "join" and ev is not first_join)  # fmt: skip
    barrier = await alice.say(room, "!usage barrier")
    await alice.wait_reply(room, barrier, host.user_id)
    await host.settle()

    assert (room, away, "!usage sent while the host was out") in host.seen  # read on the way back in
    assert away not in await host.plugin.store.claimed(COMMAND)
    assert away not in await answers_in_history(alice, room, host.user_id)
