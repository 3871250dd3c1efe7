"""One notifier that the bot's warnings, spikes and digests and the relay of hard-quota refusals call.

Each notice is JSON ``{"kind", "id", "ts", ...}``; ``id`` is stable for one notice (the claim that makes
the bot post it once), so a receiver can drop a repeat. Webhooks get it POSTed with
``X-Usage-Signature: sha256=<hex>``, the HMAC-SHA256 of the exact body with the hook's secret, tried
up to ``attempts`` times with exponential backoff (a 2xx answer is delivery). PostHog gets the same
notice through its Python client (``capture``, flushed at close). Sending happens in background tasks:
a slow receiver never holds up a warning in Matrix.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tracking.retry import RetryPolicy

from ..http.settings import PosthogSettings, WebhookSettings

log = logging.getLogger(__name__)


def sign(secret: str, body: bytes) -> str:
    """The X-Usage-Signature value of a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


WEBHOOK_RETRY = RetryPolicy(1.0, 60.0)


class Notifier:
    def __init__(self, webhooks: Sequence[WebhookSettings] = (), posthog: PosthogSettings | None = None, *,
                 retry: RetryPolicy = WEBHOOK_RETRY, timeout: float = 10.0) -> None:  # fmt: skip
        self.webhooks = list(webhooks)
        self.posthog_settings = posthog
        self.retry, self.timeout = retry, timeout
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: Any = None
        self.posthog: Any = None
        if posthog is not None:
            from posthog import Posthog

            self.posthog = Posthog(posthog.api_key, host=posthog.host)

    @property
    def enabled(self) -> bool:
        return bool(self.webhooks) or self.posthog is not None

    def notify(self, kind: str, notice_id: str, payload: dict[str, Any]) -> None:
        """Send one notice (``kind`` of NOTICE_KINDS) to every webhook that wants it, and to PostHog."""
        if not self.enabled:
            return
        notice = {"kind": kind, "id": notice_id, "ts": datetime.now(UTC).isoformat(), **payload}
        body = json.dumps(notice, sort_keys=True, separators=(",", ":"), default=str).encode()
        for hook in self.webhooks:
            if kind in hook.events:
                self._spawn(self._deliver(hook, kind, notice_id, body))
        settings = self.posthog_settings
        if self.posthog is not None and settings is not None and kind in settings.events:
            try:
                distinct = str(payload.get("room_id") or "usage-bot")
                self.posthog.capture(f"usage {kind}", distinct_id=distinct, properties=json.loads(body))
            except Exception:
                log.exception("PostHog did not take a %s notice", kind)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, hook: WebhookSettings, kind: str, notice_id: str, body: bytes) -> None:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        headers = {"Content-Type": "application/json", "X-Usage-Signature": sign(hook.secret, body),
                   "X-Usage-Event": kind, "X-Usage-Delivery": notice_id}  # fmt: skip
        backoff = self.retry.start()
        for attempt in range(1, hook.attempts + 1):
            try:
                async with self._session.post(hook.url, data=body, headers=headers) as response:
                    if 200 <= response.status < 300:
                        return
                    problem = f"answered {response.status}"
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if attempt == hook.attempts:
                break
            delay = backoff.next_delay()
            log.warning("webhook %s %s for %s %s; try %d in %.1fs", hook.url, problem, kind, notice_id,
                        attempt + 1, delay)  # fmt: skip
            await asyncio.sleep(delay)
        log.error("webhook %s %s for %s %s; gave up after %d tries", hook.url, problem, kind, notice_id, hook.attempts)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait for the deliveries under way (up to ``timeout``)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def close(self, timeout: float = 30.0) -> None:
        await self.drain(timeout)
        for task in list(self._tasks):
            task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self.posthog is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.posthog.shutdown)  # flushes what is queued
