"""Webhooks on loopback get each notice once, signed over its timestamp and body; a receiver that fails
twice gets it on the third try; a redirect is a failed delivery; the log names a hook's host only.
PostHog's client, pointed at a loopback receiver, delivers the same notices."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import logging
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.http.settings import PosthogSettings, WebhookSettings
from matrix_usage_bot.bot.notify.notifier import Notifier
from matrix_usage_bot.bot.notify.refusals import RefusalRelay
from matrix_usage_bot.tracking.retry import RetryPolicy
from matrix_usage_bot.tracking.settings import QuotaSettings, QuotaSpec
from matrix_usage_bot.tracking.store import open_store

SECRET = "webhook-secret-0123456789"


@dataclass
class Receiver:
    url: str = ""
    fail_first: int = 0
    redirect: int = 0
    """A status that /hook answers with a Location elsewhere on this receiver."""
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, dict(request.headers), await request.read()))
        if len(self.requests) <= self.fail_first:
            return web.Response(status=500)
        if self.redirect and request.path == "/hook":
            return web.Response(status=self.redirect, headers={"Location": "/elsewhere?token=redirected-9"})
        return web.json_response({"status": 1})

    def delivered(self) -> list[dict]:
        return [json.loads(body) for path, _, body in self.requests if path == "/hook"]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", found.handle)
    runner = web.AppRunner(app, access_log=None)  # the receiver stands for another host: its log is not ours
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield found
    await runner.cleanup()


def hook(receiver: Receiver, **options) -> WebhookSettings:
    return WebhookSettings(url=f"{receiver.url}/hook", secret=SECRET, **options)


def verifies(headers: dict[str, str], body: bytes) -> bool:
    """What a receiver checks: the HMAC of `<X-Usage-Timestamp>.<body>`, written here from the docs."""
    message = headers["X-Usage-Timestamp"].encode() + b"." + body
    expected = "sha256=" + hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
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
    assert len({body for _, _, body in receiver.requests}) == 1  # the same body, each try signed at its time
    assert all(verifies(headers, body) for _, headers, body in receiver.requests)


async def test_the_signature_covers_a_timestamp_a_receiver_can_check(receiver):
    before = int(time.time())
    notifier = Notifier([hook(receiver)], retry=RetryPolicy(0.01, 0.01))
    notifier.notify("spike", "spike|!b:x|2026-11-02T09", {"room_id": "!b:x"})
    await notifier.close()
    after = int(time.time())
    [(_, headers, body)] = receiver.requests
    assert before <= int(headers["X-Usage-Timestamp"]) <= after  # so an old or replayed request can be refused
    assert verifies(headers, body)
    body_alone = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Usage-Signature"] != body_alone
    replayed = {**headers, "X-Usage-Timestamp": str(int(headers["X-Usage-Timestamp"]) + 3600)}
    assert not verifies(replayed, body)  # a new timestamp needs the secret


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_a_failed_delivery_and_is_not_followed(receiver, status, caplog):
    receiver.redirect = status
    notifier = Notifier([hook(receiver, attempts=2)], retry=RetryPolicy(0.01, 0.01))
    with caplog.at_level(logging.WARNING, logger="matrix_usage_bot.bot.notify"):
        notifier.notify("digest", "digest|!c:x|2026-11-03", {"room_id": "!c:x"})
        await notifier.close()
    assert [path for path, _, _ in receiver.requests] == ["/hook", "/hook"]  # never /elsewhere: no signature there
    assert caplog.records[-1].getMessage() == (
        f"webhook 1 (http://127.0.0.1) answered {status} (a redirect, not followed) for digest"
        " digest|!c:x|2026-11-03; gave up after 2 tries")


async def test_the_log_names_a_webhook_by_its_host_only(receiver, caplog):
    receiver.fail_first = 10
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    secret_parts = ("user-7", "pass-7", "/hooks/tok-path-7", "q-key-7")
    hooks = [
        WebhookSettings(url=f"http://user-7:pass-7@{receiver.url.removeprefix('http://')}/hooks/tok-path-7?k=q-key-7",
                        secret=SECRET, attempts=2),
        WebhookSettings(url=f"http://127.0.0.1:{closed_port}/hooks/tok-path-7?k=q-key-7", secret=SECRET, attempts=2),
    ]  # fmt: skip
    notifier = Notifier(hooks, retry=RetryPolicy(0.01, 0.01))
    with caplog.at_level(logging.DEBUG):
        notifier.notify("spike", "spike|!d:x|2026-11-04T10", {"room_id": "!d:x"})
        await notifier.close()
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert not [part for part in secret_parts if part in logged], logged
    assert "webhook 1 (http://127.0.0.1) answered 500" in logged
    assert "webhook 2 (http://127.0.0.1) could not be reached (Connect call failed" in logged


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
    """The installed posthog client. The project's range allows any from 3.5, and before 6 the first
    parameter of ``capture`` was ``distinct_id``: the notifier names every argument (this test passes
    with 3.5.0, 3.25.0, 4.0.0, 4.10.0, 5.4.0, 6.0.0, 6.9.3 and 7.91.1 put first on the path)."""
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
