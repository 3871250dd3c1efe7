"""Rate limits (429) and a lost homeserver."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import web
from nio import AsyncClientConfig, ErrorResponse

from matrix_usage_bot.bot.matrix.nio_client import RateLimitAwareClient

pytestmark = pytest.mark.synapse


async def test_rate_limited_bot_waits_and_retries(synapse, make_user, make_bot):
    root = await make_user("root", admin=True)
    alice = await make_user("alice")
    bot = await make_bot(allowed_inviters=[alice.user_id])
    room = await alice.room_with(bot)
    await root.api(
        "POST",
        f"/_synapse/admin/v1/users/{quote(bot.user_id)}/override_ratelimit",
        {"messages_per_second": 2, "burst_count": 1},
    )
    limited: list[ErrorResponse] = []

    async def note(resp: ErrorResponse) -> None:
        limited.append(resp)

    bot.client.add_response_callback(note, ErrorResponse)
    sent = [await bot.outbox.notice(room, f"notice {i}") for i in range(3)]
    assert len(set(sent)) == 3
    assert limited and all(r.status_code == "M_LIMIT_EXCEEDED" and r.retry_after_ms for r in limited)
    bodies = []
    for event_id in sent:
        ev = await alice.wait_for(lambda r, e, event_id=event_id: e.event_id == event_id)
        bodies.append(ev.body)
    assert bodies == ["notice 0", "notice 1", "notice 2"]


async def test_retry_after_header_is_honoured(tmp_path: Path):
    """A server that sends only ``Retry-After`` (no ``retry_after_ms``): nio alone would wait 5 s."""
    calls: list[float] = []

    async def send(request: web.Request) -> web.Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return web.json_response(
                {"errcode": "M_LIMIT_EXCEEDED", "error": "slow down"}, status=429, headers={"Retry-After": "1"}
            )
        return web.json_response({"event_id": "$sent"})

    app = web.Application()
    app.router.add_put("/_matrix/client/v3/rooms/{room}/send/{type}/{txn}", send)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = RateLimitAwareClient(
        f"http://127.0.0.1:{port}", "@bot:test", device_id="DEV", config=AsyncClientConfig(encryption_enabled=False)
    )
    client.restore_login("@bot:test", "DEV", "token")
    try:
        resp = await client.room_send("!room:test", "m.room.message", {"msgtype": "m.notice", "body": "x"})
    finally:
        await client.close()
        await runner.cleanup()
    assert resp.event_id == "$sent"
    assert len(calls) == 2
    assert 0.9 <= calls[1] - calls[0] < 3.0


async def test_reconnects_after_homeserver_outage(synapse, make_user, make_bot):
    alice = await make_user("alice")
    bot = await make_bot(allowed_inviters=[alice.user_id])
    room = await alice.room_with(bot)
    cmd = await alice.say(room, "!usage before outage")
    await alice.wait_reply(room, cmd, bot.user_id)

    await synapse.astop()
    try:
        await asyncio.wait_for(bot.session.disconnected.wait(), 30)
    finally:
        await synapse.astart()
    await asyncio.wait_for(bot.session.connected.wait(), 30)

    cmd = await alice.say(room, "!usage after outage")
    reply = await alice.wait_reply(room, cmd, bot.user_id)
    assert reply.body == "answer to !usage after outage"
    assert bot.recorder.bodies() == ["!usage before outage", "!usage after outage"]
