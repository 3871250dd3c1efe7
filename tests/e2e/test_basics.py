"""The homeserver, invites, command dispatch and the answers' relations."""

from __future__ import annotations

import time
import urllib.request

import pytest

pytestmark = pytest.mark.synapse


def test_homeserver_starts_and_registers(synapse):
    with urllib.request.urlopen(synapse.base_url + "/_matrix/client/versions") as resp:
        assert resp.status == 200
    user_id, token = synapse.register_user(f"reg{int(time.time() * 1000)}", "pw")
    assert user_id.endswith(":localhost") and token
    caps = synapse.admin_request("GET", "/_matrix/client/v3/capabilities", token)
    versions = caps["capabilities"]["m.room_versions"]
    assert "12" in versions["available"]
    assert synapse.startup_seconds is not None and synapse.startup_seconds < 30


async def test_invites_allowed_and_rejected(make_user, make_bot):
    alice = await make_user("alice")
    mallory = await make_user("mallory")
    bot = await make_bot(allowed_inviters=[alice.user_id, ":example.org"])

    room = await mallory.create_room([bot.user_id])
    await mallory.wait_membership(room, bot.user_id, "leave")
    assert room not in bot.client.rooms

    room = await alice.create_room([bot.user_id])
    await alice.wait_membership(room, bot.user_id, "join")


def relates_to(ev) -> dict:
    return ev.source["content"].get("m.relates_to") or {}


async def test_command_reaches_handler_once_and_reply_relations(make_user, make_bot):
    alice = await make_user("alice")
    bob = await make_user("bob")
    bot = await make_bot(allowed_inviters=[alice.user_id])
    room = await alice.room_with(bot, others=[bob])

    cmd = await bob.say(room, "!usage week")
    reply = await bob.wait_reply(room, cmd, bot.user_id)
    content = reply.source["content"]
    assert content["msgtype"] == "m.notice"
    assert content["body"] == "answer to !usage week"
    assert content["format"] == "org.matrix.custom.html"
    assert content["formatted_body"] == "<b>answer</b> to !usage week"
    assert relates_to(reply) == {"m.in_reply_to": {"event_id": cmd}}

    [ctx] = bot.recorder.commands
    assert (ctx.room_id, ctx.event_id, ctx.sender, ctx.body) == (room, cmd, bob.user_id, "!usage week")
    assert ctx.thread_root is None and not ctx.is_direct and not ctx.encrypted


async def test_command_in_thread_is_answered_in_thread(make_user, make_bot):
    alice = await make_user("alice")
    bot = await make_bot(allowed_inviters=[alice.user_id])
    room = await alice.room_with(bot)

    root = await alice.say(room, "an agent is working on something")
    cmd = await alice.say(room, "!usage thread", thread_root=root)
    reply = await alice.wait_reply(room, cmd, bot.user_id)
    assert relates_to(reply) == {
        "rel_type": "m.thread",
        "event_id": root,
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": cmd},
    }
    [ctx] = bot.recorder.commands
    assert ctx.thread_root == root
    assert ctx.is_direct  # alice and the bot only


async def test_ignored_messages(make_user, make_bot):
    alice = await make_user("alice")
    other_bot = await make_user("agentbot")
    bot = await make_bot(allowed_inviters=[alice.user_id])

    room = await alice.create_room([other_bot.user_id])
    await other_bot.join(room)
    early = await alice.say(room, "!usage asked before the bot was invited")
    await alice.client.room_invite(room, bot.user_id)
    await alice.wait_membership(room, bot.user_id, "join")

    await other_bot.say(room, "!usage from another bot", msgtype="m.notice")
    await alice.say(room, "!usagetoday")
    await alice.say(room, "hello !usage")
    edit = {
        "msgtype": "m.text",
        "body": "* !usage",
        "m.new_content": {"msgtype": "m.text", "body": "!usage"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": early},
    }
    await alice.send(room, edit)
    await bot.outbox.text(room, "!usage said by the bot itself")
    barrier = await alice.say(room, "!usage")
    await alice.wait_reply(room, barrier, bot.user_id)

    assert bot.recorder.bodies() == ["!usage"]
    senders = {(sender, content.get("msgtype")) for _, _, sender, content, _ in bot.recorder.contents}
    assert (other_bot.user_id, "m.notice") in senders  # passive collection sees other bots' notices
    assert all(sender != bot.user_id for _, _, sender, _, _ in bot.recorder.contents)
    assert any(event_id == early for _, event_id, _, _, _ in bot.recorder.contents)  # history too


async def test_failing_command_gets_error_notice(make_user, make_bot):
    alice = await make_user("alice")
    bot = await make_bot(allowed_inviters=[alice.user_id])
    room = await alice.room_with(bot)

    cmd = await alice.say(room, "!usage boom")
    reply = await alice.wait_reply(room, cmd, bot.user_id)
    assert reply.source["content"]["body"] == "Something went wrong while answering that command."
    assert reply.source["content"]["msgtype"] == "m.notice"
    cmd = await alice.say(room, "!usage")
    await alice.wait_reply(room, cmd, bot.user_id)


async def test_mentions_in_text(make_user, make_bot):
    alice = await make_user("alice")
    bot = await make_bot(allowed_inviters=[alice.user_id])
    room = await alice.room_with(bot)
    event_id = await bot.outbox.text(room, "90% used", mentions=[alice.user_id, bot.user_id])
    ev = await alice.wait_for(lambda r, e: e.event_id == event_id)
    assert ev.source["content"]["msgtype"] == "m.text"
    assert ev.source["content"]["m.mentions"] == {"user_ids": [alice.user_id]}


def test_startup_failure_reports_log_tail(tmp_path):
    from matrix_usage_bot.bot.demo.homeserver import LocalSynapse, SynapseError

    hs = LocalSynapse(workdir=tmp_path / "broken", extra_config={"default_room_version": "no-such-version"})
    with pytest.raises(SynapseError) as err:
        hs.start()
    assert "no-such-version" in str(err.value)  # the tail of Synapse's own log
    assert not hs.running
