"""`Tracker`: the entry point agents use to record usage (README: Recording usage from Python)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from .compiled import compile_function
from .context import _current
from .fields import ATTRIBUTION, TRACKER
from .http_sink import REMOTE_READS, http_writer, is_http_url
from .later import Later
from .pricing import PriceOverride, Pricer
from .reader import Reader
from .remote_quotas import CollectorQuotas
from .rows import Recorded
from .settings import QuotaSettings, TrackingSettings, load_tracking_settings
from .shutdown import closing, register, unregister
from .store import Store, StoreError, open_store
from .tracker_quotas import TrackerQuotas
from .validation import new_event_id
from .writer import FlushMarker, Writer, WriterStats

log = logging.getLogger(__name__)


class TrackerClosed(RuntimeError):
    """record() was called on a tracker that is closed or was never started."""


def _closed_error() -> TrackerClosed:
    return TrackerClosed("Tracker is closed: record() needs an open tracker (use `with Tracker(...)` or call start())")


def _record_method() -> Callable[..., None]:
    """`Tracker.record`, generated from `Recorded`'s fields (the field table's), as dataclasses generate
    `__init__`: every field a keyword, the queued tuple built from them by name, at the cost of a tuple."""
    keywords = [name if name in ("provider", "model") else f"{name}={Recorded._field_defaults.get(name)!r}"
                for name in Recorded._fields]  # fmt: skip
    attribution = [f"    {name} = {name} or context.get({name!r})" for name in ATTRIBUTION]
    body = [
        "if not self._open:",
        "    raise _closed_error()",
        "if ts is None:  # stamped now, not when the writer gets to it (a locked store can hold it for minutes)",
        "    ts = self.clock() if self.clock is not None else _time()",
        "if event_id is None:  # given here, so a spilled or re-sent event is still counted once",
        "    event_id = _new_event_id()",
        "if len(self._queue) >= self.max_pending:",
        "    self._wait_for_room()",
        "context = _current.get()",
        "if context:",
        *attribution,
        f"self._queue.append(_new(Recorded, ({', '.join(Recorded._fields)},)))",
    ]
    names = {"_closed_error": _closed_error, "_time": time.time, "_new_event_id": new_event_id, "_current": _current,
             "_new": tuple.__new__, "Recorded": Recorded}  # fmt: skip
    return compile_function("record", ("self", "*", *keywords), body, names, doc=_RECORD_DOC)


_RECORD_DOC = f"""Queue one call. Never blocks on I/O; attribution not given here comes from `tracking.attribute`.

Keywords: {", ".join(Recorded._fields)}; `provider` and `model` are required, each counter is 0 unless given
(`tracking.fields.COUNTERS`). Invalid values do not raise here (this runs inside LLM calls): the writer logs
them and keeps them in the store's `rejected_events` table.
"""


class Tracker(TrackerQuotas):
    """Records LLM usage without blocking the caller; a background writer stores it in batches.

    Use it as a context manager, sync (`with`) or async (`async with`); leaving it drains the queue.
    """

    def __init__(
        self,
        url: str = "sqlite:///data/usage.db",
        *,
        price_overrides: list[PriceOverride] | None = None,
        timezone: str = "UTC",
        quotas: QuotaSettings | None = None,
        clock: Callable[[], datetime] | None = None,  # for tests: stamps events and sets quota windows
        batch_size: int = 20_000,
        flush_interval: float = 0.05,
        max_pending: int = 500_000,
        full_wait: float = 5.0,
        api_key: str | None = None,
        spool: str | Path | None = None,
        source: str = TRACKER,
    ) -> None:
        """``url`` is the store (``sqlite:///...``), or a collector (``https://...``, README: HTTP API) that
        events are posted to with ``api_key``, spooled to ``spool`` while it is away (see ``http_sink``).
        ``source`` is stored with each event (a collector stores its key's name instead)."""
        self.url = url
        self.source = source
        self.timezone = timezone
        self.quota_settings = quotas or QuotaSettings()
        self.clock = clock
        self.pricer = Pricer(price_overrides)
        self._remote = is_http_url(url)
        if self._remote:
            self._writer = http_writer(url, api_key, spool, self.pricer, batch_size=batch_size, interval=flush_interval)
            self._quota_reader = Reader(url, lambda: CollectorQuotas.open(url, api_key))
        else:
            self._writer = Writer(url, self.pricer, batch_size=batch_size, interval=flush_interval, source=source)
            self._quota_reader = Reader(url)
        self.max_pending = max_pending
        self.full_wait = full_wait
        self._queue = self._writer.queue
        self._open = False
        self._closed = False
        self._reader: Store | None = None

    @classmethod
    def from_config(cls, path: str | Path, **kwargs: Any) -> Tracker:
        return cls.from_settings(load_tracking_settings(path), **kwargs)

    @classmethod
    def from_settings(cls, settings: TrackingSettings, **kwargs: Any) -> Tracker:
        """The config's store, price overrides, time zone and quotas: every tracker built from a config
        (agents, the bot's passive collector) prices with the same overrides."""
        return cls(
            settings.storage.url,
            price_overrides=settings.pricing.overrides,
            timezone=settings.timezone,
            quotas=settings.quotas,
            **({"api_key": settings.storage.api_key, "spool": settings.storage.spool} | kwargs),
        )

    # life cycle

    def start(self) -> Tracker:
        """Open the store (creating and migrating it) and start the writer; blocks until ready."""
        if self._open:
            return self
        if self._closed:
            raise TrackerClosed("this tracker was closed; create a new Tracker")
        # Import the price data here, not lazily in the writer thread: a module half-imported there
        # (genai-prices pulls in an HTTP client that SDKs look up in sys.modules) can break a concurrent call.
        import genai_prices  # noqa: F401

        self._writer.start()
        self._writer.ready.wait()
        if self._writer.open_error is not None:
            self._closed = True
            error = self._writer.open_error
            raise error if isinstance(error, StoreError) else StoreError(str(error))
        self._quota_reader.start()  # after the writer: the store exists and is migrated
        self._quota_reader.ready.wait()
        self._open = True
        register(self)
        return self

    def close(self) -> None:
        """Drain everything recorded so far into the store, then stop the writer.

        Called again while a drain is under way (SIGTERM arriving during ``close()``), it waits for the
        same drain. Raises StoreError if events could be neither stored nor saved to a file.
        """
        with closing():
            self._open = False
            self._closed = True
            self._writer.request_close()  # again if a first close() was interrupted: it only sets a flag
            if self._writer.is_alive():
                self._writer.join()
            self._quota_reader.close()  # after the drain: events first
            unregister(self)
        if self._writer.spill.lost:
            raise StoreError(
                f"{self._writer.spill.lost} usage events could be neither stored nor saved to a file; "
                "the log holds each of them as JSON (lines starting 'unsaved usage event:')"
            )

    async def aclose(self) -> None:
        if self._reader is not None:
            await self._reader.close()
            self._reader = None
        await asyncio.to_thread(self.close)

    def __enter__(self) -> Tracker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Tracker:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # recording

    record = _record_method()

    def record_later(self, fields: Callable[..., dict[str, Any]], *args: Any) -> None:
        """Queue one call whose usage is read on the writer's thread (`tracking.later`), for hooks:
        `fields(*args)` returns `record()`'s keywords. The call's time and attribution are taken now; `args`
        are not copied, so `fields` must only read them. What it raises is logged, the call kept in
        `rejected_events`.
        """
        if not self._open:
            raise _closed_error()
        if len(self._queue) >= self.max_pending:
            self._wait_for_room()
        self._queue.append(Later(self.clock() if self.clock is not None else time.time(), _current.get(), fields, args))

    def _wait_for_room(self) -> None:
        """The queue is full (``max_pending``): wait up to ``full_wait`` seconds for the writer to catch up.

        If it does not (the store is locked or far too slow), the oldest queued events are saved to
        the spill file for ``usage-bot ingest`` to make room: memory stays bounded, nothing is lost.
        """
        deadline = time.monotonic() + self.full_wait
        self._writer.wake()
        while len(self._queue) >= self.max_pending and time.monotonic() < deadline:
            time.sleep(0.001)
        if len(self._queue) >= self.max_pending:
            self._writer.spill_oldest(len(self._queue) - self.max_pending + 1)

    async def flush(self) -> None:
        """Return once everything recorded before this call is durable in the store."""
        if not self._open:
            return
        self._check_writer()
        loop = asyncio.get_running_loop()
        marker = FlushMarker(loop=loop, future=loop.create_future())
        self._queue.append(marker)
        self._writer.wake()
        await marker.future  # type: ignore[misc]

    def flush_sync(self, timeout: float | None = None) -> bool:
        """The blocking flush, for synchronous code. Returns False on timeout."""
        if not self._open:
            return True
        self._check_writer()
        marker = FlushMarker()
        self._queue.append(marker)
        self._writer.wake()
        return marker.done.wait(timeout)

    def _check_writer(self) -> None:
        if not self._writer.is_alive():
            raise StoreError("the tracker's writer has stopped (see the log); nothing more can be stored")

    @property
    def stats(self) -> WriterStats:
        """Counts so far: stored, duplicates (an event_id seen before in its room), rejected, write retries."""
        return self._writer.stats

    @property
    def pending(self) -> int:
        return len(self._queue)

    @property
    def spill_path(self) -> Path | None:
        """Where unwritten events were saved if the store stayed unusable at close."""
        return self._writer.spill.path

    async def store(self) -> Store:
        """A read connection to the store, for queries from the caller's event loop."""
        if self._reader is None:
            if self._remote:
                raise StoreError(REMOTE_READS)
            self._reader = await open_store(self.url)
        return self._reader
