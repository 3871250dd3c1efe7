"""Quotas in both units, counted everywhere, hourly, on plans, and spike warnings, against the real Synapse."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price

from ...money import shown_usd as usd
from .conftest import record
from .test_quotas_e2e import Clock, ask, history, wait_messages

pytestmark = pytest.mark.synapse


def gpt4o(ts: datetime, **tokens: int) -> Decimal:
    return calc_price(Usage(**tokens), "gpt-4o", provider_id="openai", genai_request_timestamp=ts).total_price


async def direct_messages(user, bot_id: str, count: int, timeout: float = 30) -> list[str]:
    """The bodies of the m.text messages the bot sent `user` in direct chats (its invites are accepted)."""
    deadline = time.monotonic() + timeout
    while True:
        await user.sync()
        for room_id in list(user.client.invited_rooms):
            await user.join(room_id)
        found = [
            ev["content"]["body"]
            for room_id, room in list(user.client.rooms.items()) if set(room.users) == {user.user_id, bot_id}
            for ev in await history(user, room_id, bot_id) if ev["content"].get("msgtype") == "m.text"
        ]  # fmt: skip
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.3)


async def test_a_token_and_a_dollar_quota_on_one_day_each_warn_and_clear_apart(make_user, make_usage_bot, agents):
    clock = Clock(datetime(2026, 11, 10, 12, tzinfo=UTC))
    alice = await make_user("alice")
    bot = await make_usage_bot(clock=clock)
    room = await alice.room_with(bot)
    for amount, unit in (("200k", "token"), ("$5", "dollar")):
        answer = await ask(alice, bot, room, f"!usage quota set room daily {amount}")
        assert answer.body.startswith(f"Set this room's daily {unit} budget")
    both = await ask(alice, bot, room, "!usage quota")
    assert "this room's daily token budget" in both.body and "this room's daily dollar budget" in both.body

    record(agents, room, input_tokens=150_000, output_tokens=0, ts=clock.now)
    await agents.flush()
    [tokens75] = await wait_messages(alice, room, bot.user_id, 1, "m.text")
    assert "75% of this room's daily token budget used: 150k of 200k tokens" in tokens75["content"]["body"]

    record(agents, room, input_tokens=0, output_tokens=350_000, ts=clock.now)
    await agents.flush()
    spent = gpt4o(clock.now, input_tokens=150_000) + gpt4o(clock.now, output_tokens=350_000)
    warnings = [w["content"]["body"] for w in await wait_messages(alice, room, bot.user_id, 3, "m.text")]
    assert any("100% of this room's daily token budget used: 500k of 200k tokens" in w for w in warnings)
    assert any(f"75% of this room's daily dollar budget used: {usd(spent)} of $5.00" in w for w in warnings)

    cleared = await ask(alice, bot, room, "!usage quota clear room daily usd")
    assert cleared.body == "Cleared this room's daily dollar budget in this room."
    left = await ask(alice, bot, room, "!usage quota")
    assert "this room's daily token budget" in left.body and "dollar" not in left.body


async def test_a_users_quota_everywhere_sums_rooms_and_warns_them_and_the_bot_admins(make_user, make_usage_bot, agents):
    clock = Clock(datetime(2026, 11, 10, 12, tzinfo=UTC))
    alice, carol = await make_user("alice"), await make_user("carol")
    bot = await make_usage_bot(
        clock=clock, admins=[carol.user_id], warnings={"spike_factor": 0},
        quotas={"everywhere": [{"scope": "user", "window": "monthly", "limit": "$20"},
                               {"scope": "global", "window": "monthly", "limit": "$100"}]},
    )  # fmt: skip
    room_a, room_b = await alice.room_with(bot, others=[carol]), await alice.room_with(bot, others=[carol])
    for room in (room_a, room_b):  # $8 each: 40% in each room, 80% of alice's all-rooms budget
        record(agents, room, user_id=alice.user_id, input_tokens=0, output_tokens=800_000, ts=clock.now)
    await agents.flush()
    spent = 2 * gpt4o(clock.now, output_tokens=800_000)
    expected = f"75% of {alice.user_id}'s all-rooms monthly dollar budget used: {usd(spent)} of $20.00"
    alice_dms = await direct_messages(alice, bot.user_id, 1)
    assert any(expected in body for body in alice_dms), (expected, alice_dms)
    assert any(expected in body for body in await direct_messages(carol, bot.user_id, 1))
    for room in (room_a, room_b):  # nothing in the rooms themselves
        assert await wait_messages(alice, room, bot.user_id, 1, "m.text", timeout=0.5) == []

    record(agents, room_a, user_id=carol.user_id, input_tokens=0, output_tokens=6_000_000, ts=clock.now)
    await agents.flush()
    total = spent + gpt4o(clock.now, output_tokens=6_000_000)
    global_text = f"75% of the global monthly dollar budget used: {usd(total)} of $100.00"
    carol_dms = await direct_messages(carol, bot.user_id, 3)
    assert any(global_text in body for body in carol_dms)
    assert not any(global_text in body for body in await direct_messages(alice, bot.user_id, 1, timeout=0.5))
    assert await bot.app.watcher.check_all() == 0  # each once


async def test_an_hourly_quota_resets_on_the_hour(make_user, make_usage_bot, agents):
    clock = Clock(datetime(2026, 11, 10, 14, 10, tzinfo=UTC))  # 15:10 in Berlin
    alice = await make_user("alice")
    hourly = {"scope": "room", "window": "hourly", "limit": "10k"}
    bot = await make_usage_bot(clock=clock, quotas={"defaults": [hourly]})
    room = await alice.room_with(bot)
    record(agents, room, input_tokens=8_000, output_tokens=0, ts=clock.now)
    await agents.flush()
    [first] = await wait_messages(alice, room, bot.user_id, 1, "m.text")
    assert "75% of this room's hourly token budget used: 8k of 10k tokens; resets 16:00." in first["content"]["body"]
    shown = await ask(alice, bot, room, "!usage quota")
    assert "8k" in shown.body and "16:00" in shown.body

    clock.now = datetime(2026, 11, 10, 15, 0, 1, tzinfo=UTC)  # 16:00:01: a new hour, nothing used yet
    shown = await ask(alice, bot, room, "!usage quota")
    assert re.search(r"hourly token budget\s+0\s+10k\s+0%\s+17:00", shown.body)
    record(agents, room, input_tokens=8_000, output_tokens=0, ts=clock.now)
    await agents.flush()
    [_, second] = await wait_messages(alice, room, bot.user_id, 2, "m.text")
    assert "resets 17:00." in second["content"]["body"]


async def test_a_spike_warns_the_room_admins_once_naming_the_agent(make_user, make_usage_bot, agents):
    clock = Clock(datetime(2026, 11, 10, 14, 50, tzinfo=UTC))
    alice = await make_user("alice")
    bot = await make_usage_bot(clock=clock, warnings={"spike_factor": 10, "spike_min_usd": 1})
    room = await alice.room_with(bot)
    for days in range(1, 8):  # the usual: $0.10 at this hour each day
        record(agents, room, agent="steady", input_tokens=40_000, output_tokens=0,
               ts=clock.now - timedelta(days=days, minutes=20))  # fmt: skip
    record(agents, room, agent="steady", input_tokens=40_000, output_tokens=0, ts=clock.now - timedelta(minutes=30))
    await agents.flush()
    await asyncio.sleep(1)
    assert await wait_messages(alice, room, bot.user_id, 1, "m.text", timeout=0.5) == []  # usual use: no spike

    for _ in range(3):  # a runaway loop: $1.00 each, in the same hour
        record(agents, room, agent="looper", model="gpt-4o", input_tokens=0, output_tokens=100_000, ts=clock.now)
    await agents.flush()
    [spike] = await wait_messages(alice, room, bot.user_id, 1, "m.text")
    last = gpt4o(clock.now, input_tokens=40_000) + 3 * gpt4o(clock.now, output_tokens=100_000)
    usual = 7 * gpt4o(clock.now, input_tokens=40_000) / 7
    body = spike["content"]["body"]
    # 4 calls against 1, 85k tokens a call against 40k, $9.12 against $2.50 a million tokens: calls changed most
    per_token = (last / 340_000) / (usual / 40_000)
    assert body == (
        f"{alice.user_id}: Usage spike: this room spent {usd(last)} in the last hour, {last / usual:.0f} times"
        f" its usual {usd(usual)} at this hour. Changed most: calls, 4 against 1 usually (×4.0); tokens per call"
        f" ×{Decimal(85_000) / 40_000:.1f}, price per token ×{per_token:.1f}. Behind it: agent looper, model gpt-4o,"
        " thread (no thread)."
    )
    assert spike["content"]["m.mentions"]["user_ids"] == [alice.user_id]
    record(agents, room, agent="looper", input_tokens=0, output_tokens=100_000, ts=clock.now)
    await agents.flush()
    assert await bot.app.watcher.check_all() == 0
    assert len(await wait_messages(alice, room, bot.user_id, 2, "m.text", timeout=1)) == 1


async def test_a_room_on_a_plan_gets_its_quotas_and_a_new_plan_at_once(make_user, make_usage_bot):
    alice, carol = await make_user("alice"), await make_user("carol")
    bot = await make_usage_bot(
        admins=[carol.user_id],
        quotas={"plans": {"free": [{"scope": "room", "window": "daily", "limit": "10k", "hard": True}],
                          "pro": [{"scope": "room", "window": "daily", "limit": "1m"}]}},
    )  # fmt: skip
    room = await alice.room_with(bot, others=[carol])
    assert (await ask(alice, bot, room, "!usage plan")).body == "This room is on no plan (plans: free, pro)."
    refused = await ask(alice, bot, room, "!usage plan pro")
    assert refused.body == "Only bot admins can put a room on a plan."
    put = await ask(carol, bot, room, "!usage plan free")
    assert put.body == "Put this room on plan free: this room's daily token budget."
    shown = await ask(alice, bot, room, "!usage quota")
    assert "10k" in shown.body and "hard, plan free" in shown.body and "This room is on plan free." in shown.body
    await ask(carol, bot, room, "!usage plan pro")
    shown = await ask(alice, bot, room, "!usage quota")
    assert "1M" in shown.body and "plan pro" in shown.body and "10k" not in shown.body
    unknown = await ask(carol, bot, room, "!usage plan gold")
    assert unknown.body.startswith("there is no plan 'gold'; plans: free, pro")
