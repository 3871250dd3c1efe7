"""Quotas, warnings and digests against the real Synapse, with the clock set by the test."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from nio import RoomMessageNotice, RoomMessageText

from matrix_usage_bot.bot.features.digests import Digests

from .conftest import BOTH_BACKENDS, record

pytestmark = pytest.mark.synapse


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def history(user, room: str, sender: str) -> list[dict]:
    path = f"/_matrix/client/v3/rooms/{quote(room)}/messages?dir=f&limit=1000"
    return [
        ev for ev in (await user.api("GET", path))["chunk"] if ev["sender"] == sender and ev["type"] == "m.room.message"
    ]


def is_digest(ev: dict) -> bool:
    return ev["content"]["body"].startswith("Daily digest") and "m.relates_to" not in ev["content"]


async def wait_messages(user, room: str, sender: str, count: int, msgtype: str, timeout: float = 30,
                        where=lambda ev: True) -> list[dict]:  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        found = [
            ev for ev in await history(user, room, sender) if ev["content"].get("msgtype") == msgtype and where(ev)
        ]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def ask(user, bot, room, body):
    event_id = await user.say(room, body)
    return await user.wait_reply(room, event_id, bot.user_id)


@BOTH_BACKENDS
async def test_threshold_warnings_once_each_to_the_room_admins(make_user, make_usage_bot, agents):
    clock = Clock(datetime(2026, 11, 10, 12, tzinfo=UTC))
    alice, bob, carol = await make_user("alice"), await make_user("bob"), await make_user("carol")
    bot = await make_usage_bot(clock=clock, bot={"timezone": "Europe/Berlin"})
    room = await alice.create_room([bot.user_id, bob.user_id, carol.user_id], room_version="12",
                                   power_level_override={"users": {bob.user_id: 50, carol.user_id: 100}})  # fmt: skip
    for user in (bob, carol):
        await user.join(room)
    await alice.wait_membership(room, bot.user_id, "join")

    answer = await ask(alice, bot, room, "!usage quota set room monthly 10k")
    assert answer.body == "Set this room's monthly token budget (soft); used so far: 0 of 10k tokens."

    async def use(tokens: int) -> None:
        record(agents, room, agent="researcher", input_tokens=tokens, output_tokens=0, ts=clock.now)
        await agents.flush()

    await use(7_600)
    [w75] = await wait_messages(alice, room, bot.user_id, 1, "m.text")
    assert (
        w75["content"]["body"].endswith(
            ": 76% of this room's monthly token budget used: 7.6k of 10k tokens; resets 1 December."
        )
        is False
    )  # the threshold is named, not the exact percentage
    assert (
        "75% of this room's monthly token budget used: 7.6k of 10k tokens; resets 1 December." in w75["content"]["body"]
    )
    assert sorted(w75["content"]["m.mentions"]["user_ids"]) == sorted([alice.user_id, carol.user_id])
    assert f'href="https://matrix.to/#/{alice.user_id}"' in w75["content"]["formatted_body"]
    assert bob.user_id not in w75["content"]["body"] and bot.user_id not in w75["content"]["m.mentions"]["user_ids"]

    await bot.stop()  # a restart repeats nothing
    bot = await make_usage_bot(config=bot.config, clock=clock)
    await use(1_500)  # 91 %
    await wait_messages(alice, room, bot.user_id, 2, "m.text")
    await use(1_000)  # 101 %
    warnings = await wait_messages(alice, room, bot.user_id, 3, "m.text")
    assert [w["content"]["body"].split(": ", 1)[1][:4] for w in warnings] == ["75% ", "90% ", "100%"]
    assert await bot.app.watcher.check_all() == 0
    assert len(await wait_messages(alice, room, bot.user_id, 4, "m.text", timeout=1)) == 3

    clock.now = datetime(2026, 12, 2, 12, tzinfo=UTC)  # the next period fires again
    await use(8_000)
    warnings = await wait_messages(alice, room, bot.user_id, 4, "m.text")
    assert (
        "75% of this room's monthly token budget used: 8k of 10k tokens; resets 1 January."
        in warnings[3]["content"]["body"]
    )


async def test_quota_set_needs_a_room_admin(make_user, make_usage_bot, agents):
    alice, bob = await make_user("alice"), await make_user("bob")
    bot = await make_usage_bot()
    room = await alice.room_with(bot, others=[bob])
    refused = await ask(bob, bot, room, "!usage quota set room daily $5")
    assert refused.body.startswith("Sorry, only this room's admins and bot admins may run !usage quota set room")
    assert "no quotas" in (await ask(bob, bot, room, "!usage quota")).body
    record(agents, room, agent="coder", input_tokens=1000, output_tokens=100)
    await agents.flush()
    done = await ask(alice, bot, room, "!usage quota set agent coder daily $5 hard")
    assert done.body == "Set agent coder's daily dollar budget (hard); used so far: $0.0035 of $5.00."
    shown = await ask(bob, bot, room, "!usage quota")
    assert "agent coder's daily dollar budget" in shown.body and "hard" in shown.body
    bad = await ask(alice, bot, room, "!usage quota set agent coder weekly 5")
    assert "'weekly' is not one of hourly, daily, monthly" in bad.body
    wrong_unit = await ask(alice, bot, room, "!usage quota clear agent coder daily tokens")
    assert wrong_unit.body == "There is no such quota in this room; see !usage quota."
    cleared = await ask(alice, bot, room, "!usage quota clear agent coder daily usd")
    assert cleared.body == "Cleared agent coder's daily dollar budget in this room."
    assert "no quotas" in (await ask(bob, bot, room, "!usage quota")).body


@BOTH_BACKENDS
async def test_digest_across_dst_and_a_missed_digest_posted_once(make_user, make_usage_bot, agents):
    # 29 March 2026: Berlin moves to summer time, a 23-hour day.
    clock = Clock(datetime(2026, 3, 30, 5, tzinfo=UTC))  # 07:00 in Berlin
    alice = await make_user("alice")
    bot = await make_usage_bot(clock=clock, bot={"timezone": "Europe/Berlin"})
    room = await alice.room_with(bot)
    record(
        agents, room, agent="early", input_tokens=1000, output_tokens=10, ts=datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    )
    record(agents, room, agent="late", model="gpt-4o-mini", input_tokens=2000, output_tokens=20,
           ts=datetime(2026, 3, 29, 21, 30, tzinfo=UTC))  # fmt: skip
    record(
        agents, room, agent="today", input_tokens=9999, output_tokens=1, ts=datetime(2026, 3, 29, 22, 30, tzinfo=UTC)
    )
    record(agents, room, agent="before", input_tokens=1500, output_tokens=0, ts=datetime(2026, 3, 28, 12, tzinfo=UTC))
    await agents.flush()

    on = await ask(alice, bot, room, "!usage digest on 09:00")
    assert on.body == "Daily digest on: every day at 09:00 (Europe/Berlin), covering the day before."
    assert bot.app.digests.next_run(room).hour == 9
    trigger = Digests.trigger("09:00", bot.app.digests.tz)
    before_switch = datetime(2026, 3, 28, 9, 30, tzinfo=bot.app.digests.tz)
    first = trigger.get_next_fire_time(None, before_switch)
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    assert (first.isoformat(), second.isoformat()) == ("2026-03-29T09:00:00+02:00", "2026-03-30T09:00:00+02:00")
    assert (second - first) == timedelta(hours=24) and second.astimezone(UTC) - first.astimezone(UTC) == timedelta(
        hours=24
    )

    now = await ask(alice, bot, room, "!usage digest now")
    assert now.body.startswith("Daily digest for 29 March 2026: 2 calls · 3k tokens (3k in, 30 out) · $0.0029")
    # $0.002912: gpt-4o 1000 in + 10 out, gpt-4o-mini 2000 in + 20 out, shown to two significant digits
    assert "early" in now.body and "late" in now.body and "today" not in now.body
    assert "Tokens +102% against the day before" in now.body

    await bot.stop()
    clock.now = datetime(2026, 3, 30, 8, tzinfo=UTC)  # 10:00: the 09:00 digest was missed while down
    bot = await make_usage_bot(config=bot.config, clock=clock)
    digests = await wait_messages(alice, room, bot.user_id, 1, "m.notice", where=is_digest)
    assert len(digests) == 1 and digests[0]["content"]["body"].startswith("Daily digest for 29 March 2026")
    await bot.stop()
    bot = await make_usage_bot(config=bot.config, clock=clock)
    assert not await bot.app.digests.post_due(room)
    await asyncio.sleep(0)
    assert len([ev for ev in await history(alice, room, bot.user_id) if is_digest(ev)]) == 1


async def test_empty_day_digest_is_one_line(make_user, make_usage_bot):
    alice = await make_user("alice")
    bot = await make_usage_bot(clock=Clock(datetime(2026, 5, 2, 12, tzinfo=UTC)))
    room = await alice.room_with(bot)
    reply = await ask(alice, bot, room, "!usage digest now")
    assert isinstance(reply, RoomMessageNotice | RoomMessageText)
    assert reply.body == "Daily digest: no LLM usage in this room on 1 May 2026."
