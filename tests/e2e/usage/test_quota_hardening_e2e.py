"""Quotas that cannot be poisoned, global use kept from rooms, names escaped, warnings and digests never lost."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from matrix_usage_bot.bot.matrix.sending import SendError
from matrix_usage_bot.tracking.quotas import QuotaExceeded

from .conftest import record
from .test_quotas_e2e import Clock, ask, is_digest, wait_messages

pytestmark = pytest.mark.synapse

ABSURD = ["$0.0000000000001", "$1e30", "$99999999999999999999", "99999999999999999999999999999b", "0.5"]


@pytest.mark.parametrize("amount", ABSURD)
async def test_absurd_quota_amounts_are_refused_with_the_usage_line(make_user, make_usage_bot, amount):
    alice = await make_user("alice")
    bot = await make_usage_bot()
    room = await alice.room_with(bot)
    answer = await ask(alice, bot, room, f"!usage quota set room monthly {amount}")
    assert f"amount {amount!r}" in answer.body
    assert "!usage quota set room hourly|daily|monthly AMOUNT [hard]" in answer.body
    assert "no quotas" in (await ask(alice, bot, room, "!usage quota")).body


def poison(db_url: str, room_id: str, limit_value: str) -> None:
    """A quota row as an older version could write it, with an amount no quota may have."""
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as db:
        db.execute(
            "INSERT INTO quota_rules (place, scope, name, window_kind, unit, limit_value, hard, disabled, set_by,"
            " set_ms)"
            " VALUES (?, 'room', '', 'monthly', 'usd', ?, 1, 0, NULL, 0)",
            (room_id, limit_value),
        )


async def test_a_poisoned_quota_stops_nothing_for_other_rooms(make_user, make_usage_bot, agents, db_url):
    clock = Clock(datetime(2026, 11, 10, 12, tzinfo=UTC))
    alice = await make_user("alice")
    bot = await make_usage_bot(clock=clock)
    poisoned = await alice.room_with(bot)
    healthy = await alice.room_with(bot)
    assert (await ask(alice, bot, healthy, "!usage quota set room monthly 10k hard")).body.startswith("Set")
    poison(db_url, poisoned, "1E-30")
    poison(db_url, poisoned.replace("!", "!x"), "1E+999999")  # a second bad row, on a room the bot is not in

    record(agents, poisoned, input_tokens=5_000, output_tokens=0, ts=clock.now)
    record(agents, healthy, input_tokens=8_000, output_tokens=0, ts=clock.now)
    await agents.flush()

    [warning] = await wait_messages(alice, healthy, bot.user_id, 1, "m.text")
    assert "75% of this room's monthly token budget used: 8k of 10k tokens" in warning["content"]["body"]
    assert "no quotas" in (await ask(alice, bot, poisoned, "!usage quota")).body

    record(agents, healthy, input_tokens=2_000, output_tokens=0, ts=clock.now)
    await agents.flush()
    book = bot.app.quotas
    with pytest.raises(QuotaExceeded, match="room's monthly token budget is used up"):
        await book.enforce(room_id=healthy)
    await book.enforce(room_id=poisoned)  # nothing usable there: no refusal, no crash


async def test_global_quota_use_is_shown_to_bot_admins_only_in_a_direct_chat(make_user, make_usage_bot, agents):
    alice, carol = await make_user("alice"), await make_user("carol")
    bot = await make_usage_bot(
        admins=[carol.user_id],
        quotas={"defaults": [{"scope": "global", "window": "monthly", "limit": "1m"}]},
    )
    quiet = await alice.room_with(bot, others=[carol])
    busy = await carol.room_with(bot)
    record(agents, busy, input_tokens=123_456, output_tokens=0)
    await agents.flush()

    for asker in (alice, carol):  # in a shared room nobody sees every room's usage, not even a bot admin
        seen = await ask(asker, bot, quiet, "!usage quota")
        assert "123" not in seen.body and "global" not in seen.body
        assert "1 quota counted across all rooms also applies: ask me in a direct chat." in seen.body
        assert "123" not in seen.source["content"]["formatted_body"]

    dm = (await carol.client.room_create(invite=[bot.user_id], is_direct=True)).room_id
    await carol.wait_membership(dm, bot.user_id, "join")
    seen_by_carol = await ask(carol, bot, dm, "!usage quota")
    assert "the global monthly token budget" in seen_by_carol.body and "123.5k" in seen_by_carol.body
    alice_dm = (await alice.client.room_create(invite=[bot.user_id], is_direct=True)).room_id
    await alice.wait_membership(alice_dm, bot.user_id, "join")
    assert (await ask(alice, bot, alice_dm, "!usage quota")).body.endswith(
        "\n\nNo quota counted across all rooms applies to you."
    )


async def test_quota_answers_escape_the_agent_name(make_user, make_usage_bot):
    alice = await make_user("alice")
    bot = await make_usage_bot()
    room = await alice.room_with(bot)
    answer = await ask(alice, bot, room, "!usage quota set agent <b>x</b>& daily 10k")
    html = answer.source["content"]["formatted_body"]
    assert "agent &lt;b&gt;x&lt;/b&gt;&amp;&#x27;s daily token budget" in html and "<b>" not in html
    cleared = await ask(alice, bot, room, "!usage quota clear agent <b>x</b>& daily tokens")
    assert "&lt;b&gt;x&lt;/b&gt;&amp;" in cleared.source["content"]["formatted_body"]


async def silence_the_bot(user, room: str, bot_id: str, silenced: bool) -> None:
    path = f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.power_levels/"
    content = await user.api("GET", path)
    content.setdefault("users", {})[bot_id] = -1 if silenced else 0
    content["events_default"] = 0
    content.setdefault("events", {})["m.room.message"] = 0
    await user.api("PUT", path, content)


async def bot_level_is(bot, room: str, level: int) -> None:
    """Returns once the bot's client has synced its own power level in the room."""
    for _ in range(300):
        if bot.app.matrix.client.rooms[room].power_levels.get_user_level(bot.user_id) == level:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the bot never saw its level {level} in {room}")


async def wait_log(caplog, text: str, timeout: float = 30) -> None:
    for _ in range(int(timeout / 0.1)):
        if any(text in r.getMessage() for r in caplog.records):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no log line with {text!r}")


async def test_a_warning_the_homeserver_refused_is_sent_later_exactly_once(make_user, make_usage_bot, agents, caplog):
    caplog.set_level(logging.INFO)
    clock = Clock(datetime(2026, 11, 10, 12, tzinfo=UTC))
    alice = await make_user("alice")
    bot = await make_usage_bot(clock=clock)
    room = await alice.room_with(bot)
    await ask(alice, bot, room, "!usage quota set room monthly 10k")
    await silence_the_bot(alice, room, bot.user_id, True)
    await bot_level_is(bot, room, -1)
    record(agents, room, input_tokens=8_000, output_tokens=0, ts=clock.now)
    await agents.flush()
    await wait_log(caplog, f"checking the quotas of {room} failed")

    await silence_the_bot(alice, room, bot.user_id, False)
    [warning] = await wait_messages(alice, room, bot.user_id, 1, "m.text")
    assert "75% of this room's monthly token budget used: 8k of 10k tokens" in warning["content"]["body"]
    assert await bot.app.watcher.check_all() == 0
    assert len(await wait_messages(alice, room, bot.user_id, 2, "m.text", timeout=1)) == 1


async def test_a_digest_the_homeserver_refused_is_posted_later_exactly_once(make_user, make_usage_bot, agents):
    clock = Clock(datetime(2026, 11, 10, 12, tzinfo=UTC))
    alice = await make_user("alice")
    bot = await make_usage_bot(clock=clock)
    room = await alice.room_with(bot)
    await ask(alice, bot, room, "!usage digest on 09:00")
    record(agents, room, input_tokens=1_000, output_tokens=0, ts=datetime(2026, 11, 9, 12, tzinfo=UTC))
    await agents.flush()
    await silence_the_bot(alice, room, bot.user_id, True)

    digests = bot.app.digests
    digests.retry_seconds = 0.5
    with pytest.raises(SendError, match="M_FORBIDDEN"):
        await digests.post_due(room)
    await silence_the_bot(alice, room, bot.user_id, False)

    [digest] = await wait_messages(alice, room, bot.user_id, 1, "m.notice", where=is_digest)
    assert digest["content"]["body"].startswith("Daily digest for 9 November 2026: 1 call")
    assert await digests.post_due(room) is False
    assert len(await wait_messages(alice, room, bot.user_id, 2, "m.notice", timeout=1, where=is_digest)) == 1
