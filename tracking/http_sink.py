"""The HTTP tracker's writer target: batches go to a collector's `POST /v1/events` (SPEC section 9).

`Tracker("https://usage.example.org", api_key=...)` runs the same background writer as a local
tracker; only the target differs. The writer validates each batch (bad values are logged, as
always) and hands it here; the batch is posted as JSON lines, without costs, so the collector prices
it with its config's overrides like every other entry point. While the collector is away (refused
connection, timeout, 5xx, 401/403/429) batches are appended to the spool file, fsynced, and resent
with exponential backoff until it answers; whatever is left at close stays in the spool and the next
tracker with the same spool sends it. Every event carries the `event_id` given at `record()`, so a
resend of something the collector had already stored counts once. An event the collector refuses
(400) is moved to `<spool>.refused.jsonl` with the reason logged, and the rest are sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .fields import COLUMN, COUNTERS, EVENT_COLUMNS
from .pricing import Pricer
from .retry import RetryPolicy
from .spill import SpillFile, _append_whole
from .store.batch import RowBatch
from .writer import Target, Writer

log = logging.getLogger(__name__)

COLLECTOR_RETRY = RetryPolicy(1.0, 30.0)
"""Delays between tries while the collector is away (jittered: 0.5-1 s, then doubling up to 15-30 s)."""
POST_SIZE = 1000
"""Events per request: far below the collector's default body limit."""
_TEXT = ("event_id", "room_id", "thread_id", "agent", "user_id", "session_id", "operation", "provider", "model",
         "status")  # fmt: skip


REMOTE_READS = (
    "a tracker that sends to an HTTP collector cannot read the store: quota checks, reservations and "
    "enforcement need a tracker on the store itself (sqlite:// or postgresql://); read quotas over "
    "GET /v1/quotas instead"
)


def http_writer(url: str, api_key: str | None, spool: str | Path | None, pricer: Pricer, **options: Any) -> Writer:
    """The background writer of an HTTP tracker: the usual one, posting to the collector."""
    spill = SpillFile(url, Path(spool).expanduser() if spool is not None else default_spool(url))
    return Writer(url, pricer, target=Target(lambda: HttpSink.open(url, api_key, spill), spill), **options)


def is_http_url(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def default_spool(url: str) -> Path:
    """One spool per collector, kept across restarts of the agent."""
    where = urlsplit(url).netloc.replace(":", "_") or "collector"
    return Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "usage-bot" / f"{where}.jsonl"


def row_event(row: tuple) -> dict[str, Any]:
    """A stored row (EVENT_COLUMNS order) as the collector's JSON event, without its cost."""
    event: dict[str, Any] = {name: row[COLUMN[name]] for name in _TEXT if row[COLUMN[name]] not in (None, "")}
    event["ts"] = datetime.fromtimestamp(row[COLUMN["ts_ms"]] / 1000, UTC).isoformat()
    event.update({name: row[COLUMN[name]] for name in COUNTERS if row[COLUMN[name]]})
    if row[COLUMN["latency_ms"]] is not None:
        event["latency_ms"] = row[COLUMN["latency_ms"]]
    if row[COLUMN["metadata"]]:
        event["metadata"] = json.loads(row[COLUMN["metadata"]])
    return event


class CollectorAway(Exception):
    """The collector did not take the request; try again later."""


class HttpSink:
    """Opened on the writer's event loop; offers the part of the `Store` protocol the writer uses."""

    def __init__(self, url: str, api_key: str | None, spill: SpillFile, *, timeout: float = 10.0,
                 retry: RetryPolicy = COLLECTOR_RETRY) -> None:  # fmt: skip
        import aiohttp  # a core dependency, imported only by trackers that send over HTTP

        self.endpoint = url.rstrip("/") + "/v1/events"
        self.spill = spill
        self._backoff = retry.start()
        headers = {"Content-Type": "application/x-ndjson"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._session = aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=timeout))
        self._errors: tuple[type[BaseException], ...] = (aiohttp.ClientError, TimeoutError, OSError)
        self._next_try = 0.0
        self._retrying: asyncio.Task[None] | None = None
        self.sent = 0

    @classmethod
    async def open(cls, url: str, api_key: str | None, spill: SpillFile) -> HttpSink:
        sink = cls(url, api_key, spill)
        path = spill.path
        if _spooled(spill) or (path is not None and any(path.parent.glob(f"{path.name}.sending-*"))):
            sink._retry_soon()  # left by an earlier run
        return sink

    async def insert_batch(self, batch: RowBatch) -> int:
        lines = [json.dumps(row_event(row), separators=(",", ":")) + "\n" for row in batch.rows]
        if not lines:
            return 0
        if time.monotonic() >= self._next_try and await self.resend():
            try:
                return await self._post(lines)
            except CollectorAway as exc:
                self._away(exc)
        self._spool(lines)
        return len(lines)

    def _spool(self, lines: list[str]) -> None:
        path = self.spill.save_lines(lines)
        if path is not None:
            log.info("%d usage events spooled to %s until the collector answers", len(lines), path)
        self._retry_soon()

    async def _post(self, lines: list[str]) -> int:
        """Post in requests of POST_SIZE events (halved while the collector says 413: its body limit);
        returns how many the collector stored anew."""
        stored = 0
        work = [lines[start : start + POST_SIZE] for start in range(0, len(lines), POST_SIZE)]
        while work:
            chunk = work.pop()
            answer, status = await self._request(chunk)
            if status == 200:
                stored += int(answer.get("stored", 0))
                self.sent += len(chunk)
                for refused in answer.get("rejected") or ():
                    self._refused(chunk[refused["index"]], str(refused.get("error")))
            elif status == 413 and len(chunk) > 1:
                work += [chunk[len(chunk) // 2 :], chunk[: len(chunk) // 2]]
            elif status == 400 and isinstance(answer.get("index"), int) and 0 <= answer["index"] < len(chunk):
                self._refused(chunk.pop(answer["index"]), str(answer.get("error")))
                if chunk:
                    work.append(chunk)
            else:
                raise CollectorAway(f"the collector refused a request ({status}: {answer.get('error')})")
        self._backoff.reset()
        return stored

    async def _request(self, chunk: list[str]) -> tuple[dict[str, Any], int]:
        try:
            async with self._session.post(self.endpoint, data="".join(chunk).encode()) as response:
                status = response.status
                try:
                    answer = await response.json(content_type=None)
                except ValueError:
                    answer = {}
        except self._errors as exc:
            raise CollectorAway(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from exc
        if status not in (200, 400, 413):
            raise CollectorAway(f"the collector answered {status}: {answer.get('error', '')}".rstrip(": "))
        return (answer if isinstance(answer, dict) else {}), status

    def _refused(self, line: str, reason: str) -> None:
        base = self.spill.base
        where = base.with_name(base.name + ".refused.jsonl")
        _append_whole(where, [line])
        log.error("the collector refused a usage event (%s); kept in %s", reason, where)

    def _away(self, exc: BaseException) -> None:
        delay = self._backoff.next_delay()
        self._next_try = time.monotonic() + delay
        log.warning("the usage collector is away (%s); spooling, next try in %.1fs", exc, delay)

    def _retry_soon(self) -> None:
        if self._retrying is None or self._retrying.done():
            self._retrying = asyncio.get_running_loop().create_task(self._retry_loop())

    async def _retry_loop(self) -> None:
        while True:
            await asyncio.sleep(max(self._next_try - time.monotonic(), 0.05))
            if await self.resend() and not _spooled(self.spill):
                return

    async def resend(self) -> bool:
        """Send what the spool holds; True once it is empty (or was), False if the collector is away."""
        while (path := self._claim_spool()) is not None:
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            try:
                await self._post([line for line in lines if line.strip()])
            except CollectorAway as exc:
                self._away(exc)
                return False
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            log.info("%d spooled usage events sent to the collector", len(lines))
        return True

    def _claim_spool(self) -> Path | None:
        """This process's file being sent: the spool renamed under the spill lock (appends carry on into a
        new one), after taking back into the spool the files of senders that died midway."""
        spool = self.spill.path
        if spool is None:
            return None
        mine = spool.with_name(f"{spool.name}.sending-{os.getpid()}")
        for other in spool.parent.glob(f"{spool.name}.sending-*"):
            pid = other.name.rsplit("-", 1)[-1]
            if other != mine and pid.isdigit() and not _alive(int(pid)):
                lines = other.read_text(encoding="utf-8").splitlines(keepends=True)
                if not lines or self.spill.save_lines(lines) is not None:
                    other.unlink()
        with self.spill._lock:
            if not mine.exists() and spool.exists() and spool.stat().st_size:
                os.replace(spool, mine)
        return mine if mine.exists() else None

    async def close(self) -> None:
        """One last try at the spool (what stays there is sent by the next tracker), then close."""
        if self._retrying is not None:
            self._retrying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retrying
        if _spooled(self.spill) and not await self.resend():
            self._unclaim()
        await self._session.close()

    def _unclaim(self) -> None:
        """Put the file this process was sending back into the spool, for the next tracker."""
        spool = self.spill.path
        mine = spool.with_name(f"{spool.name}.sending-{os.getpid()}") if spool is not None else None
        if mine is not None and mine.exists():
            lines = mine.read_text(encoding="utf-8").splitlines(keepends=True)
            if not lines or self.spill.save_lines(lines) is not None:
                mine.unlink()
        log.warning("the usage collector is away; unsent events stay in %s for the next tracker", self.spill.path)


def _spooled(spill: SpillFile) -> bool:
    """Whether this process has events waiting in the spool (or being sent from it)."""
    path = spill.path
    if path is None:
        return False
    mine = path.with_name(f"{path.name}.sending-{os.getpid()}")
    return (path.exists() and path.stat().st_size > 0) or mine.exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


__all__ = ["EVENT_COLUMNS", "HttpSink", "default_spool", "is_http_url", "row_event"]
