"""One notifier that the bot's warnings, spikes and digests and the relay of hard-quota refusals call.

Each notice is JSON ``{"kind", "id", "ts", ...}``; ``id`` is stable for one notice (the claim that makes
the bot post it once), so a receiver can drop a repeat. Webhooks get it POSTed with
``X-Usage-Timestamp: <unix seconds>`` and ``X-Usage-Signature: sha256=<hex>``, the HMAC-SHA256 of
``<timestamp>.<body>`` with the hook's secret (so a receiver can refuse an old or replayed request),
tried up to ``attempts`` times with exponential backoff, each try signed at its own time. Only a 2xx
answer is delivery: redirects are not followed (the signature must not go elsewhere, and a POST turned
into a GET delivers nothing). The log names a hook by its place in ``webhooks`` and its host, never its
path or query, which may hold a token. PostHog gets the same notice through its Python client
(``capture``, flushed at close). Sending happens in background tasks: a slow receiver never holds up
a warning in Matrix.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from matrix_usage_bot.tracking.retry import RetryPolicy

from ..http.settings import PosthogSettings, WebhookSettings

log = logging.getLogger(__name__)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Usage-Signature value of a body sent at ``timestamp`` (unix seconds, X-Usage-Timestamp)."""
    return "sha256=" + hmac.new(secret.encode(), b"%d.%s" % (timestamp, body), hashlib.sha256).hexdigest()


def host_of(url: str) -> str:
    """What the log may say of a webhook's URL: its scheme and host, not the credentials, port, path or query."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://[{host}]" if ":" in host else f"{parts.scheme}://{host}"


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

            self.posthog = Posthog(posthog.api_key, host=posthog.host, timeout=timeout)

    @property
    def enabled(self) -> bool:
        return bool(self.webhooks) or self.posthog is not None

    def notify(self, kind: str, notice_id: str, payload: dict[str, Any]) -> None:
        """Send one notice (``kind`` of NOTICE_KINDS) to every webhook that wants it, and to PostHog."""
        if not self.enabled:
            return
        notice = {"kind": kind, "id": notice_id, "ts": datetime.now(UTC).isoformat(), **payload}
        body = json.dumps(notice, sort_keys=True, separators=(",", ":"), default=str).encode()
        for number, hook in enumerate(self.webhooks, 1):
            if kind in hook.events:
                self._spawn(self._deliver(hook, f"webhook {number} ({host_of(hook.url)})", kind, notice_id, body))
        settings = self.posthog_settings
        if self.posthog is not None and settings is not None and kind in settings.events:
            try:
                distinct = str(payload.get("room_id") or "usage-bot")
                # by keyword: before posthog 6 the first parameter was distinct_id, from 6 on it is the event
                self.posthog.capture(event=f"usage {kind}", distinct_id=distinct, properties=json.loads(body))
            except Exception:
                log.exception("PostHog did not take a %s notice", kind)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, hook: WebhookSettings, name: str, kind: str, notice_id: str, body: bytes) -> None:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        backoff = self.retry.start()
        for attempt in range(1, hook.attempts + 1):
            timestamp = int(time.time())
            headers = {"Content-Type": "application/json", "X-Usage-Timestamp": str(timestamp),
                       "X-Usage-Signature": sign(hook.secret, timestamp, body), "X-Usage-Event": kind,
                       "X-Usage-Delivery": notice_id}  # fmt: skip
            try:
                async with self._session.post(hook.url, data=body, headers=headers, allow_redirects=False) as response:
                    if 200 <= response.status < 300:
                        return
                    problem = f"answered {response.status}"
                    if 300 <= response.status < 400:
                        problem += " (a redirect, not followed)"
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                problem = self._describe(exc)
            if attempt == hook.attempts:
                break
            delay = backoff.next_delay()
            log.warning("%s %s for %s %s; try %d in %.1fs", name, problem, kind, notice_id, attempt + 1, delay)
            await asyncio.sleep(delay)
        log.error("%s %s for %s %s; gave up after %d tries", name, problem, kind, notice_id, hook.attempts)

    def _describe(self, exc: BaseException) -> str:
        """A failed try, without the URL that aiohttp's messages may carry."""
        import aiohttp

        if isinstance(exc, TimeoutError):
            return f"gave no answer within {self.timeout:g}s"
        reason = type(exc).__name__
        if isinstance(exc, aiohttp.ClientConnectorError):
            with contextlib.suppress(AttributeError):  # the certificate errors have no os_error
                reason = exc.os_error.strerror or reason
            return f"could not be reached ({reason})"
        return f"failed ({reason})"

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
