"""Webhooks on loopback get each notice once, signed; a receiver that fails twice gets it on the third try.
PostHog's client, pointed at a loopback receiver, delivers the same notices."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

import tracking
from bot.http.settings import PosthogSettings, WebhookSettings
from bot.notify.notifier import Notifier
from bot.notify.refusals import RefusalRelay
from tracking.retry import RetryPolicy
from tracking.settings import QuotaSettings, QuotaSpec
from tracking.store import open_store

SECRET = "webhook-secret-0123456789"


@dataclass
class Receiver:
    url: str = ""
    fail_first: int = 0
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, dict(request.headers), await request.read()))
        if len(self.requests) <= self.fail_first:
            return web.Response(status=500)
        return web.json_response({"status": 1})

    def delivered(self) -> list[dict]:
        return [json.loads(body) for path, _, body in self.requests if path == "/hook"]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield found
    await runner.cleanup()


def hook(receiver: Receiver, **options) -> WebhookSettings:
    return WebhookSettings(url=f"{receiver.url}/hook", secret=SECRET, **options)


def verifies(headers: dict[str, str], body: bytes) -> bool:
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-Usage-Signature"], expected)


async def test_each_notice_arrives_once_signed(receiver):
    notifier = Notifier([hook(receiver)], retry=RetryPolicy(0.01, 0.01))
    notifier.notify("spike", "spike|!a:x|2026-10-04T10", {"room_id": "!a:x", "message": "a spike"})
    notifier.notify("digest", "digest|!a:x|2026-10-05", {"room_id": "!a:x", "day": "2026-10-04", "text": "..."})
    await notifier.close()
    assert [(n["kind"], n["id"]) for n in receiver.delivered()] == [
        ("spike", "spike|!a:x|2026-10-04T10"), ("digest", "digest|!a:x|2026-10-05")]
    for _, headers, body in receiver.requests:
        assert verifies(headers, body)
        assert headers["X-Usage-Event"] in ("spike", "digest")


async def test_only_the_kinds_a_hook_asks_for(receiver):
    notifier = Notifier([hook(receiver, events=["digest"])], retry=RetryPolicy(0.01, 0.01))
    notifier.notify("spike", "s1", {"room_id": "!a:x"})
    notifier.notify("digest", "d1", {"room_id": "!a:x"})
    await notifier.close()
    assert [n["id"] for n in receiver.delivered()] == ["d1"]


async def test_a_receiver_failing_twice_gets_it_on_the_third_try(receiver):
    receiver.fail_first = 2
    notifier = Notifier([hook(receiver)], retry=RetryPolicy(0.01, 0.01))
    notifier.notify("quota_warning", "room|!a:x||monthly|tokens:1000|2026-10-01|90", {"room_id": "!a:x"})
    await notifier.close()
    assert len(receiver.requests) == 3
    assert len({body for _, _, body in receiver.requests}) == 1  # the same body, the same signature
    assert all(verifies(headers, body) for _, headers, body in receiver.requests)


async def test_a_hard_quota_refusal_in_an_agent_reaches_the_webhook_once(receiver, db_url):
    quotas = QuotaSettings(defaults=[QuotaSpec(scope="room", window="monthly", limit="1000", hard=True)])
    async with tracking.Tracker(db_url, quotas=quotas) as tracker:  # the agent's process
        tracker.record(provider="openai", model="gpt-4o", input_tokens=900, output_tokens=200, room_id="!a:x")
        await tracker.flush()
        for _ in range(3):  # refused again and again: one notice for the quota's window
            with pytest.raises(tracking.QuotaExceeded):
                await tracker.enforce_quota(room_id="!a:x")
    store, other = await open_store(db_url), await open_store(db_url)  # the bot and `usage-bot serve`
    notifier = Notifier([hook(receiver)], retry=RetryPolicy(0.01, 0.01))
    try:
        assert await RefusalRelay(store, notifier).relay() == 1
        assert await RefusalRelay(other, notifier).relay() == 0
        assert await RefusalRelay(store, notifier).relay() == 0
    finally:
        await notifier.close()
        await store.close()
        await other.close()
    [notice] = receiver.delivered()
    assert notice["kind"] == "quota_refused" and notice["room_id"] == "!a:x"
    assert notice["id"].startswith("quota_refused|room|!a:x||monthly|tokens:1000|")
    assert (notice["used"], notice["limit"], notice["quota"]["scope"]) == ("1100", "1000", "room")
    assert verifies(receiver.requests[0][1], receiver.requests[0][2])


async def test_posthog_receives_the_same_notices(receiver):
    notifier = Notifier(posthog=PosthogSettings(api_key="phc_test_key", host=receiver.url))
    notifier.notify("spike", "spike|!a:x|h", {"room_id": "!a:x", "message": "a spike"})
    notifier.notify("digest", "digest|!a:x|d", {"room_id": "!a:x", "text": "yesterday"})
    await notifier.close()  # the client's thread flushes at shutdown
    captured = []
    for path, headers, body in receiver.requests:
        if path.rstrip("/").endswith("batch"):
            data = gzip.decompress(body) if headers.get("Content-Encoding") == "gzip" else body
            payload = json.loads(data)
            assert payload["api_key"] == "phc_test_key"
            captured += payload["batch"]
    assert [(e["event"], e["distinct_id"], e["properties"]["id"]) for e in captured] == [
        ("usage spike", "!a:x", "spike|!a:x|h"), ("usage digest", "!a:x", "digest|!a:x|d")]
