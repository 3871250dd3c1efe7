"""`!usage` against the real Synapse: exact figures, scope, threads, encryption, escaping, admins."""

from __future__ import annotations

import asyncio
import random
import string
import time
from urllib.parse import quote

import pytest
from nio import RoomMessageNotice

from .conftest import BOTH_BACKENDS, record

pytestmark = pytest.mark.synapse


def html(ev) -> str:
    return ev.source["content"].get("formatted_body", "")


async def replies_by_command(user, room, bot_user, expected: int, timeout: float = 60) -> dict[str, str]:
    """The bot's answers in the room's history, keyed by the command they reply to (read with /messages)."""
    path = f"/_matrix/client/v3/rooms/{quote(room)}/messages?dir=b&limit=1000"
    deadline = time.monotonic() + timeout
    while True:
        chunk = (await user.api("GET", path))["chunk"]
        answers = {
            ev["content"]["m.relates_to"]["m.in_reply_to"]["event_id"]: ev["content"]["body"]
            for ev in chunk
            if ev["sender"] == bot_user and "m.in_reply_to" in ev["content"].get("m.relates_to", {})
        }
        if len(answers) >= expected or time.monotonic() > deadline:
            return answers
        await asyncio.sleep(0.5)


async def ask(user, bot, room, body, thread_root=None):
    event_id = await user.say(room, body, thread_root=thread_root)
    reply = await user.wait_reply(room, event_id, bot.user_id)
    assert isinstance(reply, RoomMessageNotice)
    return reply


@BOTH_BACKENDS
async def test_usage_commands_with_exact_figures(make_user, make_usage_bot, agents):
    alice = await make_user("alice")
    bot = await make_usage_bot()
    room = await alice.room_with(bot)
    record(agents, room, agent="researcher", user_id=alice.user_id, input_tokens=1200, output_tokens=300,
           cache_read_tokens=200)  # fmt: skip
    record(agents, room, agent="coder", user_id="@bob:localhost", model="gpt-4o-mini", input_tokens=10_000,
           output_tokens=2_000, thread_id="$somewhere")  # fmt: skip
    await agents.flush()

    summary = await ask(alice, bot, room, "!usage")
    assert "Today: 2 calls · 13.5k tokens (11.2k in, 2.3k out) · $0.0085" in summary.body
    # gpt-4o: $0.00575 exactly; gpt-4o-mini: 10000 * 0.15/M + 2000 * 0.6/M = $0.0027
    assert "$0.0085" in summary.body and "researcher" in summary.body and "coder" in summary.body

    models = await ask(alice, bot, room, "!usage models")
    assert "gpt-4o-mini" in models.body and "$0.0027" in models.body and "$0.0058" in models.body
    providers = await ask(alice, bot, room, "!usage providers")
    assert "Usage in this room by provider" in providers.body and "openai" in providers.body
    assert "13,500" in providers.body and "$0.0085" in providers.body  # both models are OpenAI's
    users = await ask(alice, bot, room, "!usage users today")
    assert "@bob:localhost" in users.body and alice.user_id in users.body
    days = await ask(alice, bot, room, "!usage days week")
    assert "13,500" in days.body
    threads = await ask(alice, bot, room, "!usage threads")
    assert "$somewhere" in threads.body and "(none)" in threads.body
    agents_answer = await ask(alice, bot, room, "!usage agents")
    assert "<table>" in html(agents_answer) and "12,000" in agents_answer.body
    me = await ask(alice, bot, room, "!usage me")
    assert "Today: 1 call · 1.5k tokens" in me.body and "coder" not in me.body
    help_answer = await ask(alice, bot, room, "!usage help")
    assert "!usage agents [P]" in help_answer.body and "(bot admins only)" in help_answer.body


@BOTH_BACKENDS
async def test_two_rooms_never_leak(make_user, make_usage_bot, agents):
    alice = await make_user("alice")
    bot = await make_usage_bot()
    room_a = await alice.room_with(bot)
    room_b = await alice.room_with(bot)
    record(agents, room_a, agent="alpha-agent", input_tokens=111, output_tokens=1)
    record(agents, room_b, agent="bravo-agent", model="gpt-4o-mini", input_tokens=987_654, output_tokens=3)
    await agents.flush()
    for body in ["!usage", "!usage agents all", "!usage models", "!usage rooms", "!usage all", "!usage users all",
                 f"!usage agents {room_b}", "!usage me all", "!usage threads 2000-01-01..2099-12-31"]:  # fmt: skip
        reply = await ask(alice, bot, room_a, body)
        for text in (reply.body, html(reply)):
            assert "bravo" not in text and "987" not in text, (body, text)
            assert room_b not in text or room_b in body, (body, text)  # only ever echoed back from the command


async def test_bot_admins_see_all_rooms_in_a_direct_chat(make_user, make_usage_bot, agents):
    alice = await make_user("alice")
    boss = await make_user("boss")
    bot = await make_usage_bot(admins=[boss.user_id])
    room_a = await alice.room_with(bot, others=[boss])
    room_b = await alice.room_with(bot)
    record(agents, room_a, agent="alpha-agent", input_tokens=100, output_tokens=1)
    record(agents, room_b, agent="bravo-agent", input_tokens=200, output_tokens=2)
    await agents.flush()
    refused = await ask(alice, bot, room_a, "!usage rooms")
    assert refused.body == "Sorry, only bot admins may run !usage rooms [P]."
    not_here = await ask(boss, bot, room_a, "!usage all")
    assert "only in a direct chat" in not_here.body and "bravo" not in not_here.body
    dm = (await boss.client.room_create(invite=[bot.user_id], is_direct=True)).room_id
    await boss.wait_membership(dm, bot.user_id, "join")
    rooms = await ask(boss, bot, dm, "!usage rooms")
    assert room_a in rooms.body and room_b in rooms.body and "303" in rooms.body
    everything = await ask(boss, bot, dm, "!usage all")
    assert "alpha-agent" in everything.body and "bravo-agent" in everything.body


async def test_me_in_a_direct_chat_covers_all_rooms_for_the_sender_only(make_user, make_usage_bot, agents):
    alice = await make_user("alice")
    bot = await make_usage_bot()
    room = await alice.room_with(bot)
    record(agents, room, agent="a", user_id=alice.user_id, input_tokens=500, output_tokens=5)
    record(agents, "!elsewhere:localhost", agent="b", user_id=alice.user_id, input_tokens=700, output_tokens=7)
    record(agents, room, agent="c", user_id="@someone-else:localhost", input_tokens=9_999, output_tokens=9)
    await agents.flush()
    resp = await alice.client.room_create(invite=[bot.user_id], is_direct=True)
    dm = resp.room_id
    await alice.wait_membership(dm, bot.user_id, "join")
    reply = await ask(alice, bot, dm, "!usage me")
    assert "in all rooms" in reply.body and "Today: 2 calls · 1.2k tokens" in reply.body
    assert "!elsewhere:localhost" in reply.body and "9,999" not in reply.body


async def test_thread_answer_in_thread_and_escaped_names(make_user, make_usage_bot, agents):
    alice = await make_user("alice")
    bot = await make_usage_bot()
    room = await alice.room_with(bot)
    root = await alice.say(room, "Research question")
    record(agents, room, agent="<b>x</b>&", thread_id=root, input_tokens=1000, output_tokens=10)
    record(agents, room, agent="outside", input_tokens=5000, output_tokens=50)
    await agents.flush()
    reply = await ask(alice, bot, room, "!usage thread", thread_root=root)
    relation = reply.source["content"]["m.relates_to"]
    assert relation["rel_type"] == "m.thread" and relation["event_id"] == root
    assert "outside" not in reply.body and "1,010" in reply.body
    assert "&lt;b&gt;x&lt;/b&gt;&amp;" in html(reply) and "<b>x</b>" not in html(reply)


async def test_encrypted_room_answers_encrypted(make_user, make_usage_bot, agents):
    alice = await make_user("alice")
    bot = await make_usage_bot()
    room = await alice.room_with(bot, encrypted=True)
    record(agents, room, agent="secretive", input_tokens=42, output_tokens=4)
    await agents.flush()
    reply = await ask(alice, bot, room, "!usage agents")
    assert reply.decrypted and "secretive" in reply.body and "46" in reply.body


async def test_200_malformed_commands_each_answered_then_usage_still_works(make_user, make_usage_bot, agents):
    alice = await make_user("alice")
    bot = await make_usage_bot()
    room = await alice.room_with(bot)
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "!?<>&;:'\"()[]{}.-_ éü€"
    sent = []
    for _ in range(200):
        junk = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))).strip() or "x"
        words = [*rng.sample(["agents", "models", "me", "quota", "12", "..", "by", junk], k=2), junk]
        sent.append(await alice.say(room, "!usage " + " ".join(words)))
    answered = await replies_by_command(alice, room, bot.user_id, expected=len(sent))
    for event_id in sent:
        assert answered[event_id].startswith(("⚠️", "Sorry", "Ask")), answered[event_id]
    record(agents, room, agent="after", input_tokens=1, output_tokens=1)
    await agents.flush()
    final = await ask(alice, bot, room, "!usage")
    assert "after" in final.body
