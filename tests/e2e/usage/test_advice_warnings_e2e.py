"""Runway and its early warning, spikes that say why, and the weekly cheaper-model suggestion, against the real
Synapse with the clock set by the test."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ...money import shown_pico as rounded
from ...tracking.advice_calls import pico
from .conftest import BOTH_BACKENDS, record
from .test_quotas_e2e import Clock, ask, history, is_digest, wait_messages

pytestmark = pytest.mark.synapse


async def test_runway_in_quota_and_one_early_warning_per_window(make_user, make_usage_bot, agents):
    """New York: February (28 days), then March, whose clocks go forward on the 8th, then late in April."""
    clock = Clock(datetime(2026, 2, 5, 17, tzinfo=UTC))  # 12:00 EST, 108 hours into February
    alice = await make_user("alice")
    bot = await make_usage_bot(clock=clock, bot={"timezone": "America/New_York"})
    room = await alice.room_with(bot)
    assert (await ask(alice, bot, room, "!usage quota set room monthly 1m")).body.startswith("Set this room's")

    async def use(tokens: int) -> None:
        record(agents, room, agent="scout", input_tokens=tokens, output_tokens=0, ts=clock.now)
        await agents.flush()

    await use(300_000)  # 108 h for 300k: 1M after 360 h, 16 Feb 00:00 EST
    [early] = await wait_messages(alice, room, bot.user_id, 1, "m.text")
    assert early["content"]["body"] == (
        f"{alice.user_id}: At this pace this room's monthly token budget runs out about 16 Feb 00:00, more than a"
        " day before it resets on 1 March: 300k of 1M tokens used so far.")  # fmt: skip
    assert early["content"]["m.mentions"]["user_ids"] == [alice.user_id]
    shown = await ask(alice, bot, room, "!usage quota")
    assert "runs out about 16 Feb 00:00" in shown.body and "At this pace" in shown.body
    assert await bot.app.watcher.check_all() == 0
    await bot.stop()  # a restart repeats nothing
    bot = await make_usage_bot(config=bot.config, clock=clock)
    assert await bot.app.watcher.check_all() == 0

    await use(500_000)  # 80 %: the thresholds speak now, the early warning is not repeated
    warnings = await wait_messages(alice, room, bot.user_id, 2, "m.text")
    assert "75% of this room's monthly token budget used: 800k of 1M tokens" in warnings[1]["content"]["body"]
    assert await bot.app.watcher.check_all() == 0

    clock.now = datetime(2026, 3, 9, 16, tzinfo=UTC)  # 12:00 EDT: 203 real hours into March (one lost on the 8th)
    await use(400_000)  # 1M after 507.5 h: 22 March 08:30 UTC, 04:30 EDT
    warnings = await wait_messages(alice, room, bot.user_id, 3, "m.text")
    assert warnings[2]["content"]["body"].endswith(
        "At this pace this room's monthly token budget runs out about 22 Mar 04:30, more than a day before it resets"
        " on 1 April: 400k of 1M tokens used so far.")  # fmt: skip

    clock.now = datetime(2026, 4, 29, 20, tzinfo=UTC)  # late in April: 688 h in, 74 %: lasts the window
    await use(740_000)
    assert await bot.app.watcher.check_all() == 0
    assert "lasts the window" in (await ask(alice, bot, room, "!usage quota")).body
    assert len([e for e in await history(alice, room, bot.user_id) if e["content"]["msgtype"] == "m.text"]) == 3


SPIKES = {  # what the last hour did, and the sentence that explains it
    "calls": ([("looper", "gpt-4o", "$loop", 40_000, 36_000)] * 12,
              "Changed most: calls, 12 against 1 usually (×12.0); tokens per call ×1.0, price per token ×1.0."
              " Behind it: agent looper, model gpt-4o, thread $loop."),
    "tokens per call": ([("reader", "gpt-4o", "$long", 600_000, 540_000)],
                        "Changed most: tokens per call, 600k against 40k usually (×15.0); calls ×1.0, price per token"
                        " ×1.0. Behind it: agent reader, model gpt-4o, thread $long."),
    "price per token": ([("switcher", "claude-opus-4-1", "$opus", 40_000, 0)],
                        "Changed most: price per token, $15.00 against $1.38 a million tokens usually (×10.9), cache"
                        " hit rate 0% against 90% usually; calls ×1.0, tokens per call ×1.0. Behind it: agent"
                        " switcher, model claude-opus-4-1, thread $opus."),
}  # fmt: skip


@pytest.mark.parametrize("factor", list(SPIKES))
async def test_a_spike_says_which_factor_changed_and_who_is_behind_it(make_user, make_usage_bot, agents, factor):
    clock = Clock(datetime(2026, 11, 10, 14, 50, tzinfo=UTC))
    alice = await make_user("alice")
    bot = await make_usage_bot(clock=clock, warnings={"spike_factor": 10, "spike_min_usd": "0.05"})
    room = await alice.room_with(bot)
    usual_ts = [clock.now - timedelta(days=d, minutes=20) for d in range(1, 8)]
    for ts in usual_ts:  # the usual hour: one gpt-4o call of 40k input, 90 % of it read from the cache
        record(agents, room, agent="steady", input_tokens=40_000, cache_read_tokens=36_000, output_tokens=0, ts=ts)
    await agents.flush()
    calls, explained = SPIKES[factor]
    for i, (agent, model, thread, inp, read) in enumerate(calls):
        provider = "anthropic" if model.startswith("claude") else "openai"
        record(agents, room, agent=agent, provider=provider, model=model, thread_id=thread, input_tokens=inp,
               cache_read_tokens=read, output_tokens=0, ts=clock.now - timedelta(seconds=i))  # fmt: skip
    await agents.flush()
    [spike] = await wait_messages(alice, room, bot.user_id, 1, "m.text")
    last = sum(pico("anthropic" if m.startswith("claude") else "openai", m, clock.now,
                    {"input_tokens": i, "cache_read_tokens": r}) for _, m, _, i, r in calls)  # fmt: skip
    usual = sum(pico("openai", "gpt-4o", ts, {"input_tokens": 40_000, "cache_read_tokens": 36_000}) for ts in usual_ts)
    assert spike["content"]["body"] == (
        f"{alice.user_id}: Usage spike: this room spent {rounded(last)} in the last hour,"
        f" {Decimal(last) * 7 / usual:.0f} times its usual {rounded(usual // 7)} at this hour. {explained}")


@BOTH_BACKENDS
async def test_usage_from_before_the_bot_joined_is_checked_once_it_joins(make_user, make_usage_bot, agents):
    """The spike came first, the bot's checks saw it while the bot was not in the room yet: joining is checked
    too, not only the next usage (none may come that hour)."""
    clock = Clock(datetime(2026, 11, 10, 14, 50, tzinfo=UTC))
    alice = await make_user("alice")
    bot = await make_usage_bot(clock=clock, warnings={"spike_factor": 10, "spike_min_usd": "0.05"})
    room = await alice.create_room()
    for days in range(1, 8):
        record(agents, room, agent="steady", input_tokens=40_000, cache_read_tokens=36_000, output_tokens=0,
               ts=clock.now - timedelta(days=days, minutes=20))  # fmt: skip
    calls, explained = SPIKES["calls"]
    for i, (agent, model, thread, inp, read) in enumerate(calls):
        record(agents, room, agent=agent, model=model, thread_id=thread, input_tokens=inp, cache_read_tokens=read,
               output_tokens=0, ts=clock.now - timedelta(seconds=i))  # fmt: skip
    await agents.flush()
    await asyncio.sleep(1)  # the bot checks every 0.2 s: it has seen this usage, in no room of its own
    await alice.client.room_invite(room, bot.user_id)
    await alice.wait_membership(room, bot.user_id, "join")
    [spike] = await wait_messages(alice, room, bot.user_id, 1, "m.text")
    assert spike["content"]["body"].startswith(f"{alice.user_id}: Usage spike: this room spent ")
    assert spike["content"]["body"].endswith(explained)


async def test_the_digest_names_the_largest_saving_at_most_once_a_week(make_user, make_usage_bot, agents):
    clock = Clock(datetime(2026, 11, 16, 8, 5, tzinfo=UTC))  # Monday 09:05 in Berlin
    alice = await make_user("alice")
    bot = await make_usage_bot(clock=clock)
    room = await alice.room_with(bot)
    week = [datetime(2026, 11, 8, 23, 0, 1, tzinfo=UTC) + timedelta(hours=13 * n) for n in range(13)]
    outside = datetime(2026, 11, 8, 22, 59, tzinfo=UTC)  # 23:59 on 8 November in Berlin: the week before
    for n, ts in enumerate([outside, *week]):
        record(agents, room, agent="scout", model="gpt-4o", input_tokens=30_000 + n, output_tokens=800, ts=ts)
        record(agents, room, agent="scout", model="gpt-4o-mini", input_tokens=5_000, output_tokens=50, ts=ts)
    await agents.flush()
    assert (await ask(alice, bot, room, "!usage digest on 09:00")).body.startswith("Daily digest on")
    assert await bot.app.digests.post_due(room)
    [digest] = await wait_messages(alice, room, bot.user_id, 1, "m.notice", where=is_digest)
    usage = [({"input_tokens": 30_001 + n, "output_tokens": 800}, ts) for n, ts in enumerate(week)]
    then = sum(pico("openai", "gpt-4o", ts, u) for u, ts in usage)
    mini = sum(pico("openai", "gpt-4o-mini", ts, u) for u, ts in usage)
    change = f"{Decimal(mini - then) * 100 / then:+.1f}%"
    assert digest["content"]["body"].endswith(
        f"Cheaper: agent scout's 13 calls on gpt-4o in the last 7 days cost {rounded(then)}; on openai/gpt-4o-mini"
        f" they would have cost {rounded(mini)} ({change}, {rounded(then - mini)} less).")  # fmt: skip

    for n in range(3):  # the next week: a few calls (the 22nd has none: its digest is one line, and the suggestion)
        record(agents, room, agent="scout", model="gpt-4o", input_tokens=9_000, output_tokens=90,
               ts=datetime(2026, 11, 17, 10, tzinfo=UTC) + timedelta(days=n))  # fmt: skip
    await agents.flush()
    for day, suggested in ((17, False), (22, False), (23, True)):  # a week after the last one, again
        clock.now = datetime(2026, 11, day, 8, 5, tzinfo=UTC)
        assert await bot.app.digests.post_due(room)
        digests = await wait_messages(alice, room, bot.user_id, 1 + [17, 22, 23].index(day) + 1, "m.notice",
                                      where=is_digest)  # fmt: skip
        assert ("Cheaper:" in digests[-1]["content"]["body"]) == suggested, day
