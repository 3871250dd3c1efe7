"""The HTTP tracker's writer target: batches go to a collector's `POST /v1/events` (README: HTTP API).

`Tracker("https://usage.example.org", api_key=...)` runs the same background writer as a local
tracker; only the target differs. The writer validates each event as a local one does (a bad one is
logged and set aside) but does not price it: each is posted as recorded, a JSON line
(`rows.recorded_event`), and the collector prices it once, with its config's overrides, like every
other entry point. While the
collector is away (refused connection, timeout, 5xx, 401, a 403 naming no event, 429, a redirect)
batches are appended to the spool (`tracking.spool`, shared safely by every tracker process on the
host) and resent with exponential backoff until it answers; whatever is left at close stays in the
spool and the next tracker with the same spool sends it. Every event carries the `event_id` given at
`record()`, so a resend of something the collector had already stored counts once. An event the
collector refuses for itself (a 400 or 403 naming it) is set aside in `<spool>.rejected.jsonl` with
the reason, logged once, and the rest are sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .collector_client import CollectorAway, ask, open_session, unexpected
from .later import Later
from .pricing import Pricer
from .retry import RetryPolicy
from .rows import Recorded, recorded_event
from .spill import state_dir
from .spool import Spool
from .store import Store
from .writer import Target, Writer

log = logging.getLogger(__name__)

COLLECTOR_RETRY = RetryPolicy(1.0, 30.0)
"""Delays between tries while the collector is away (jittered: 0.5-1 s, then doubling up to 15-30 s)."""
POST_SIZE = 5000
"""Events per request: about 2 MB of typical events, below the collector's default body limit (a larger body is
halved on its 413). The collector writes each request in one transaction, whose commit costs it about as much
for 5,000 events as for 1,000 (the same index and rollup pages are written): larger requests, less CPU per event."""
BUSY_POLL_S = 0.1
"""How often a tracker whose spool another sender is sending looks again."""

_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)
"""`json.dumps` with these arguments builds an encoder for every call (every event an HTTP tracker sends)."""
REMOTE_READS = (
    "a tracker that sends to an HTTP collector cannot read the store; ask the collector over its API "
    "(GET /v1/usage, GET /v1/quotas)"
)


def http_writer(url: str, api_key: str | None, spool: str | Path | None, pricer: Pricer, **options: Any) -> Writer:
    """The background writer of an HTTP tracker: the usual one, posting to the collector."""
    kept = Spool(Path(spool).expanduser()) if spool is not None else Spool(default_spool(url), former_spool(url))
    return HttpWriter(url, pricer, target=Target(lambda: HttpSink.open(url, api_key, kept), kept), **options)


def is_http_url(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def default_spool(url: str, folder: Path | None = None) -> Path:
    """One spool per collector, kept across restarts of the agent."""
    where = urlsplit(url).netloc.replace(":", "_") or "collector"
    return (folder or state_dir()) / f"{where}.jsonl"


def former_spool(url: str) -> Path:
    """Where versions before 0.2 spooled: what waits there is sent too (`Spool.former`)."""
    return default_spool(url, state_dir("usage-bot"))


@dataclass(frozen=True, slots=True)
class EventLines:
    """A batch as an HTTP tracker sends it: each event's JSON line, and the events refused before (to set aside)."""

    rows: Sequence[str]
    rejected: Sequence[tuple[int, str, str]]


class HttpWriter(Writer):
    """The writer of an HTTP tracker: each queued call validated and sent as recorded, the reservation it ends
    (`record(reservation=...)`) with it, for the collector to price, store and end."""

    def _prepare(self, batch: list[Recorded | Later]) -> EventLines:  # type: ignore[override]
        started = time.perf_counter()
        lines, rejected, _ = self._rows(batch)
        self.stats.prepare_seconds += time.perf_counter() - started
        return EventLines(lines, rejected)

    def _row(self, recorded: Recorded, now: float) -> str:
        return _ENCODER.encode(recorded_event(recorded, now)) + "\n"

    async def _store(self, store: Store, prepared: EventLines, errors: object) -> tuple[int, int]:  # type: ignore[override]
        return await store.send(prepared)  # type: ignore[attr-defined, no-any-return]


class HttpSink:
    """Opened on the writer's event loop; offers the part of the `Store` protocol the writer uses."""

    def __init__(self, url: str, api_key: str | None, spool: Spool, *, retry: RetryPolicy | None = None) -> None:
        self.endpoint = url.rstrip("/") + "/v1/events"
        self.spool = spool
        self._backoff = (retry or COLLECTOR_RETRY).start()
        self._session = open_session(api_key, **{"Content-Type": "application/x-ndjson"})
        self._next_try = 0.0
        self._retrying: asyncio.Task[None] | None = None
        self.sent = 0

    @classmethod
    async def open(cls, url: str, api_key: str | None, spool: Spool) -> HttpSink:
        sink = cls(url, api_key, spool)
        if spool.waiting():
            sink._retry_soon()  # left by an earlier run, or by another process
        return sink

    async def send(self, batch: EventLines) -> tuple[int, int]:
        """Post the batch, or spool it; returns (events the collector stored anew or spooled, events it refused
        and that were set aside)."""
        for _, reason, payload in batch.rejected:  # refused by the writer: a local tracker's rejected_events
            self.spool.set_aside(payload, reason)
        lines = list(batch.rows)
        if not lines:
            return 0, 0
        stored = refused = 0
        if time.monotonic() >= self._next_try and await self.resend():
            try:
                return await self._post(lines)
            except CollectorAway as away:
                self._away(away)
                stored, refused, lines = away.stored, away.refused, list(away.remaining)
        self._spool(lines)
        return stored + len(lines), refused

    def _spool(self, lines: list[str]) -> None:
        if not lines:
            return
        path = self.spool.save_lines(lines)
        if path is not None:
            log.info("%d usage events spooled to %s until the collector answers", len(lines), path)
        self._retry_soon()

    async def _post(self, lines: list[str]) -> tuple[int, int]:
        """Post in requests of POST_SIZE events (halved while the collector says 413: its body limit), in
        order; returns how many the collector stored anew and how many it refused. An event it refuses for
        itself is set aside and the rest of its request sent again. When it goes away, the CollectorAway
        raised carries what it stored and refused so far (`stored`, `refused`) and the lines it has not taken
        (`remaining`)."""
        stored = set_aside = 0
        work = deque(lines[start : start + POST_SIZE] for start in range(0, len(lines), POST_SIZE))
        while work:
            chunk = work.popleft()
            try:
                status, answer = await ask(self._session, "POST", self.endpoint, data="".join(chunk).encode())
                if status == 413 and len(chunk) > 1:
                    work.extendleft((chunk[len(chunk) // 2 :], chunk[: len(chunk) // 2]))
                    continue
                refused = _refused(status, answer, len(chunk))
                if refused is None:
                    raise unexpected(status, answer)
            except CollectorAway as away:
                away.stored, away.refused, away.remaining = stored, set_aside, [*chunk, *chain.from_iterable(work)]
                raise
            for index, reason in sorted(refused.items()):
                self._set_aside(chunk[index], reason)
            set_aside += len(refused)
            chunk = [line for index, line in enumerate(chunk) if index not in refused]
            if status == 200:
                stored += answer["stored"] if type(answer["stored"]) is int else 0
                self.sent += len(chunk)
            elif chunk:
                work.appendleft(chunk)  # nothing of a refused request is stored: the rest goes again
        self._backoff.reset()
        return stored, set_aside

    def _set_aside(self, line: str, reason: str) -> None:
        self.spool.set_aside(line, reason)
        log.error("the collector refused a usage event (%s); kept in %s", reason, self.spool.rejected)

    def _away(self, exc: BaseException) -> None:
        delay = self._backoff.next_delay()
        self._next_try = time.monotonic() + delay
        log.warning("the usage collector is away (%s); spooling, next try in %.1fs", exc, delay)

    def _retry_soon(self) -> None:
        if self._retrying is None or self._retrying.done():
            self._retrying = asyncio.get_running_loop().create_task(self._retry_loop())

    async def _retry_loop(self) -> None:
        while self.spool.waiting():
            await asyncio.sleep(max(self._next_try - time.monotonic(), BUSY_POLL_S))
            await self.resend()

    async def resend(self) -> bool:
        """Send what the spool holds. True once it is empty, or while another sender (a task of this
        process, or another process) is at it; False if the collector is away."""
        with self.spool.sender() as sender:
            if sender is None:
                return True
            while (lines := sender.take()) is not None:
                try:
                    await self._post(lines)
                except CollectorAway as away:
                    sender.keep(away.remaining)
                    self._away(away)
                    return False
                sender.done()
                log.info("%d spooled usage events sent to the collector", len(lines))
        return True

    async def close(self) -> None:
        """One last try at the spool (what stays there is sent by the next tracker), then close."""
        if self._retrying is not None:
            self._retrying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retrying
        if self.spool.waiting() and not await self.resend():
            log.warning("the usage collector is away; unsent events stay in %s for the next tracker", self.spool.file)
        await self._session.close()


def _refused(status: int, answer: dict[str, Any], count: int) -> dict[int, str] | None:
    """The events of a request of ``count`` that the collector refused for themselves, by index, with each
    one's reason: those it could not store (200 `rejected`), the invalid one (400), those for rooms outside
    the key (403), one alone over its body limit (413). None when the answer is not one of these: the
    collector (or whatever answered in its place) did not take the request."""
    if status == 413 and count == 1:
        return {0: "the event alone is larger than the collector's body limit (413)"}
    if status not in (200, 400, 403) or (status == 200 and "stored" not in answer):
        return None
    listed = answer.get("rejected") if status != 400 else None
    items = listed if isinstance(listed, list) and listed else ([] if status == 200 else [answer])
    named: dict[int, str] = {}
    for item in items:
        index = item.get("index") if isinstance(item, dict) else None
        if type(index) is not int or not 0 <= index < count:
            return {} if status == 200 else None
        named[index] = str(item.get("error"))
    return named


__all__ = ["CollectorAway", "EventLines", "HttpSink", "HttpWriter", "default_spool", "is_http_url"]
