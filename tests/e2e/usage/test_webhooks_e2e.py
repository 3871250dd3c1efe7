"""A threshold warning the bot posts in the room reaches a webhook once, signed, on the real Synapse."""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.http.test_webhooks import SECRET, receiver, verifies  # noqa: F401  (the receiver fixture)

from .conftest import record
from .test_quotas_e2e import Clock, ask, wait_messages

pytestmark = pytest.mark.synapse


async def test_a_posted_warning_reaches_the_webhook_once(make_user, make_usage_bot, agents, receiver):  # noqa: F811
    clock = Clock(datetime(2026, 11, 10, 12, tzinfo=UTC))
    alice = await make_user("alice")
    bot = await make_usage_bot(clock=clock, webhooks=[{"url": f"{receiver.url}/hook", "secret": SECRET}])
    room = await alice.create_room([bot.user_id])
    await alice.wait_membership(room, bot.user_id, "join")
    await ask(alice, bot, room, "!usage quota set room monthly 10k")
    record(agents, room, agent="researcher", input_tokens=9_200, output_tokens=0, ts=clock.now)
    await agents.flush()
    [warning] = await wait_messages(alice, room, bot.user_id, 1, "m.text")
    await asyncio.sleep(2.0)  # delivery is in the background; the watcher checks every 0.2 s meanwhile
    [notice] = receiver.delivered()
    assert notice["kind"] == "quota_warning" and notice["room_id"] == room and notice["threshold"] == 90
    assert notice["quota"]["scope"] == "room" and notice["quota"]["used"] == 9_200
    _, headers, body = receiver.requests[0]
    assert verifies(headers, body) and headers["X-Usage-Event"] == "quota_warning"
    assert "90%" in warning["content"]["body"]


async def test_a_posted_digest_reaches_the_webhook_once(make_user, make_usage_bot, agents, receiver):  # noqa: F811
    clock = Clock(datetime(2026, 11, 11, 12, tzinfo=UTC))
    alice = await make_user("alice")
    bot = await make_usage_bot(clock=clock, webhooks=[{"url": f"{receiver.url}/hook", "secret": SECRET,
                                                       "events": ["digest"]}])  # fmt: skip
    room = await alice.create_room([bot.user_id])
    await alice.wait_membership(room, bot.user_id, "join")
    record(agents, room, agent="researcher", input_tokens=1000, output_tokens=10, ts=datetime(2026, 11, 10, 12,
                                                                                              tzinfo=UTC))  # fmt: skip
    await agents.flush()
    assert await bot.app.digests.post_due(room)
    assert not await bot.app.digests.post_due(room)  # once a day
    await asyncio.sleep(1.0)
    [notice] = receiver.delivered()
    assert (notice["kind"], notice["room_id"], notice["day"]) == ("digest", room, "2026-11-10")
    assert notice["id"] == f"digest|{room}|2026-11-11" and notice["text"].startswith("Daily digest for 10 November")
    assert verifies(receiver.requests[0][1], receiver.requests[0][2])


async def test_a_posted_spike_warning_reaches_the_webhook_once(make_user, make_usage_bot, agents, receiver):  # noqa: F811
    clock = Clock(datetime(2026, 11, 10, 14, 50, tzinfo=UTC))
    alice = await make_user("alice")
    bot = await make_usage_bot(clock=clock, warnings={"spike_factor": 10, "spike_min_usd": 1},
                               webhooks=[{"url": f"{receiver.url}/hook", "secret": SECRET, "events": ["spike"]}])
    room = await alice.room_with(bot)
    for days in range(1, 8):  # the usual: $0.10 at this hour each day
        record(agents, room, agent="steady", input_tokens=40_000, output_tokens=0,
               ts=clock.now - timedelta(days=days, minutes=20))  # fmt: skip
    for _ in range(3):  # a runaway loop in this hour
        record(agents, room, agent="looper", input_tokens=0, output_tokens=100_000, ts=clock.now)
    await agents.flush()
    [spike] = await wait_messages(alice, room, bot.user_id, 1, "m.text")
    assert await bot.app.watcher.check_all() == 0  # once that hour
    await asyncio.sleep(1.0)
    [notice] = receiver.delivered()
    assert (notice["kind"], notice["room_id"]) == ("spike", room)
    assert notice["message"] in spike["content"]["body"] and "agent looper, model gpt-4o" in notice["message"]
    assert verifies(receiver.requests[0][1], receiver.requests[0][2])


async def test_an_early_runway_warning_reaches_the_webhook_and_posthog_once(make_user, make_usage_bot, agents,
                                                                           receiver):  # noqa: F811
    """A notice of its own kind, `runway` (a forecast, not a threshold), once per window like the message."""
    clock = Clock(datetime(2026, 11, 10, 12, tzinfo=UTC))  # 229 hours into November in Berlin
    alice = await make_user("alice")
    bot = await make_usage_bot(clock=clock, webhooks=[{"url": f"{receiver.url}/hook", "secret": SECRET}],
                               posthog={"api_key": "phc_runway_key", "host": receiver.url})  # fmt: skip
    room = await alice.room_with(bot)
    await ask(alice, bot, room, "!usage quota set room monthly 1m")
    record(agents, room, agent="scout", input_tokens=400_000, output_tokens=0, ts=clock.now)
    await agents.flush()
    [early] = await wait_messages(alice, room, bot.user_id, 1, "m.text")
    message = ("At this pace this room's monthly token budget runs out about 24 Nov 20:30, more than a day before it"
               " resets on 1 December: 400k of 1M tokens used so far.")  # 1M after 572.5 h
    assert early["content"]["body"] == f"{alice.user_id}: {message}"
    assert await bot.app.watcher.check_all() == 0
    await bot.stop()  # the PostHog client sends what it holds when it closes
    [notice] = receiver.delivered()
    assert (notice["kind"], notice["room_id"], notice["message"]) == ("runway", room, message)
    assert notice["runs_out"] == "2026-11-24T20:30:00+01:00" and notice["id"].startswith(f"runway|room|{room}|")
    assert (notice["quota"]["window"], notice["quota"]["used"], notice["quota"]["limit"]) == ("monthly", 400_000,
                                                                                              1_000_000)  # fmt: skip
    _, headers, body = next(r for r in receiver.requests if r[0] == "/hook")
    assert verifies(headers, body) and headers["X-Usage-Event"] == "runway"
    captured = [event for path, headers, body in receiver.requests if path.rstrip("/").endswith("batch")
                for event in json.loads(gzip.decompress(body) if headers.get("Content-Encoding") == "gzip"
                                        else body)["batch"]]  # fmt: skip
    assert [(e["event"], e["distinct_id"], e["properties"]["id"]) for e in captured] == [
        ("usage runway", room, notice["id"])]
