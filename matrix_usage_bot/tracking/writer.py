"""The background writer: one thread with its own event loop, draining the record queue in batches.

`record()` only appends to a deque. The writer wakes every `interval` seconds (or at once when
asked to flush), validates and prices what is queued, and writes it in one transaction per batch.
Flush markers travel in the same queue, so a flush completes exactly when everything recorded
before it is committed. A locked or failing database is retried; events are never dropped. If
the database is still unusable when the tracker closes, the unwritten events are saved as JSON
lines beside it, ready for `usage-bot ingest`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .fields import TRACKER
from .later import Later, queued_calls, resolve
from .pricing import Pricer
from .rows import Recorded, recorded_to_row
from .spill import SpillFile
from .store import EVENT_COLUMNS, RowBatch, Store, StoreError, open_store
from .store.isolation import ANY_ERROR, DATA_ERRORS, insert_keeping_refusals, prepare_isolating, rejection
from .validation import InvalidEvent

log = logging.getLogger(__name__)

@dataclass
class FlushMarker:
    done: threading.Event = field(default_factory=threading.Event)
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[None] | None = None

    def complete(self) -> None:
        self.done.set()
        if self.loop is not None and self.future is not None:
            self.loop.call_soon_threadsafe(_resolve, self.future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass
class WriterStats:
    stored: int = 0
    """Events new to the store."""
    duplicates: int = 0
    """Events the store already held (the same event_id), counted once."""
    rejected: int = 0
    """Events refused with a reason: kept in `rejected_events`, or set aside by an HTTP tracker (refused by it
    or by the collector)."""
    retries: int = 0
    """Batches tried again after the store (or collector) failed."""
    prepare_seconds: float = 0.0
    """Time spent validating, pricing and summing batches (overlaps the writes)."""
    write_seconds: float = 0.0
    """Time spent in successful database writes, commits included."""


@dataclass(frozen=True)
class Target:
    """Where a writer writes other than the store at its URL (the HTTP tracker's collector): how to open
    it, and the spool that keeps what it cannot take yet."""

    open: Callable[[], Awaitable[Store]]
    spill: SpillFile


class Writer(threading.Thread):
    def __init__(self, url: str, pricer: Pricer, *, batch_size: int = 20_000, interval: float = 0.05,
                 give_up_after: float = 30.0, target: Target | None = None, source: str = TRACKER) -> None:  # fmt: skip
        super().__init__(name="usage-writer", daemon=True)
        self.url = url
        self.pricer = pricer
        self.source = source
        self.queue: deque[Recorded | Later | FlushMarker] = deque()
        self.stats = WriterStats()
        self.batch_size = batch_size
        self.interval = interval
        self.give_up_after = give_up_after
        self.ready = threading.Event()
        self.open_error: BaseException | None = None
        self.spill = target.spill if target is not None else SpillFile(url)
        self.target = target
        self._closing = False
        self._held: list[Recorded | Later | FlushMarker] = []
        self._preparer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="usage-writer-prepare")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self.store: Store | None = None

    def run(self) -> None:
        asyncio.run(self._main())

    def wake(self) -> None:
        if self._loop is not None and self._wake is not None:
            try:
                self._loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:
                pass

    def request_close(self) -> None:
        self._closing = True
        self.wake()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            store = await (self.target.open() if self.target is not None else open_store(self.url))
        except BaseException as exc:
            self.open_error = exc
            self.ready.set()
            return
        self.store = store
        self.ready.set()
        try:
            while True:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.interval)
                except TimeoutError:
                    pass
                self._wake.clear()
                try:
                    await self._drain(store)
                except Exception as exc:  # a bug must never leave the writer dead, events queued or a flush waiting
                    log.exception("the usage writer failed; %s", "saving what is left" if self._closing else "going on")
                    self._spill([], exc, everything=self._closing)
                if self._closing and not self.queue:
                    break
        finally:
            self.store = None
            self._preparer.shutdown(wait=False)
            await store.close()

    async def _drain(self, store: Store) -> None:
        """Write everything queued, one batch per transaction, in order.

        While the database thread writes one batch, a helper thread validates, prices and sums the
        next, so the two overlap on separate cores (this loop only steers). A flush marker
        completes once every batch before it is committed.
        """
        loop = asyncio.get_running_loop()
        writing: tuple[asyncio.Task[bool], list[Recorded | Later], list[FlushMarker]] | None = None
        try:
            while self.queue or writing is not None:
                batch, markers = self._take()
                self._held = [*batch, *markers]
                preparing = loop.run_in_executor(self._preparer, self._prepare, batch) if batch else None
                if writing is not None:
                    written = await writing[0]
                    for marker in writing[2]:  # the batch before it is stored, or saved to the spill file
                        marker.complete()
                    if not written:
                        if preparing is not None:
                            await preparing
                        return
                    writing = None
                if preparing is None:
                    for marker in markers:
                        marker.complete()
                    self._held = []
                else:
                    prepared = await preparing
                    writing = (asyncio.create_task(self._write(store, batch, prepared)), batch, markers)
                    self._held = []
        except Exception:  # a bug: what is on its way is stored or held, so `_main` can save it and end its flushes
            if writing is not None:
                (outcome,) = await asyncio.gather(writing[0], return_exceptions=True)
                if isinstance(outcome, bool):  # stored, or saved to the spill file
                    for marker in writing[2]:
                        marker.complete()
                else:
                    self._held = [*writing[1], *writing[2], *self._held]
            raise

    def _take(self) -> tuple[list[Recorded | Later], list[FlushMarker]]:
        """The next batch: up to batch_size records, ending early after a flush marker."""
        batch: list[Recorded | Later] = []
        markers: list[FlushMarker] = []
        queue = self.queue
        while queue and len(batch) < self.batch_size:
            item = queue.popleft()
            if isinstance(item, FlushMarker):
                markers.append(item)
                break
            batch.append(item)
        return batch, markers

    def _prepare(self, batch: list[Recorded | Later]) -> RowBatch:
        started = time.perf_counter()
        prepared = prepare_isolating(*self._rows(batch))
        self.stats.prepare_seconds += time.perf_counter() - started
        return prepared

    def _row(self, recorded: Recorded, now: float) -> object:
        """What is written of one queued call: its priced row; InvalidEvent refuses it."""
        return recorded_to_row(recorded, self.pricer, now, self.source)

    async def _store(self, store: Store, prepared: RowBatch, errors: tuple[type[Exception], ...]) -> tuple[int, int]:
        """(events stored anew, events refused): rows the database refuses are kept in `rejected_events`."""
        return await insert_keeping_refusals(store, prepared, errors)

    async def _write(self, store: Store, batch: list[Recorded | Later], prepared: RowBatch) -> bool:
        """Store a prepared batch, trying again while the store fails; False when it was saved to the spill file
        instead (the store still failing at close). A failure that is not the store's and comes again has the
        batch's rows tried one by one: a row it follows is refused alone (`insert_keeping_refusals`)."""
        delay, started, unexplained = 0.05, time.monotonic(), 0
        while True:
            try:
                attempt = time.perf_counter()
                inserted, refused = await self._store(store, prepared, ANY_ERROR if unexplained > 1 else DATA_ERRORS)
                self.stats.write_seconds += time.perf_counter() - attempt
            except Exception as exc:
                self.stats.retries += 1
                unexplained = 0 if isinstance(exc, StoreError) else unexplained + 1
                if self._closing and time.monotonic() - started > self.give_up_after:
                    self._spill(batch, exc)
                    return False
                level = logging.WARNING if isinstance(exc, StoreError) else logging.ERROR
                log.log(level, "writing %d usage events failed (%s); retrying in %.2fs", len(prepared.rows), exc,
                        delay)  # fmt: skip
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            self.stats.stored += inserted
            self.stats.duplicates += len(prepared.rows) - inserted - refused
            self.stats.rejected += len(prepared.rejected) + refused
            return True

    def _rows(self, batch: list[Recorded | Later]) -> tuple[list[Any], list[tuple[int, str, str]], list[str]]:
        """What is written of each call of the batch (`_row`), its refusals (for `rejected_events`) and the
        reservations it ends."""
        now = time.time()
        rows, rejected, reservations = [], [], []
        for item in batch:
            recorded = item
            try:
                if type(item) is Later:
                    recorded = resolve(item)
                if recorded.reservation:
                    reservations.append(recorded.reservation)
                rows.append(self._row(recorded, now))
            except InvalidEvent as exc:
                log.error("usage event rejected: %s", exc)
                rejected.append(rejection(str(exc), recorded._asdict()))
            except Exception as exc:  # a bug here must cost one event its row, never stop the writer
                log.exception("usage event could not be turned into a row; kept in rejected_events")
                rejected.append(rejection(f"could not be stored: {type(exc).__name__}: {exc}", recorded._asdict()))
        return rows, rejected, reservations

    def _spill(self, batch: list[Recorded | Later], exc: BaseException, everything: bool = True) -> None:
        """Last resort: keep unwritten events in a JSON-lines file for `usage-bot ingest` and complete the flushes
        waiting for them: at close every unwritten one; after a bug in the drain (not ``everything``) what it held."""
        waiting = [*self._held, *(self.queue if everything else ())]
        pending = queued_calls([*batch, *waiting])
        markers = [item for item in waiting if isinstance(item, FlushMarker)]
        self._held = []
        if everything:
            self.queue.clear()
        try:
            path = self.spill.save(pending)
            if path is not None:
                log.error("usage events could not be stored (%s); %d events saved to %s (load them with "
                          "usage-bot ingest)", exc, len(pending), path)  # fmt: skip
        finally:
            for marker in markers:
                marker.complete()

    def spill_oldest(self, count: int) -> None:
        """Save the oldest ``count`` queued events to the spill file, making room in a full queue."""
        taken: list[Recorded | Later] = []
        markers: list[FlushMarker] = []
        while len(taken) < count:
            try:
                item = self.queue.popleft()
            except IndexError:
                break
            if isinstance(item, FlushMarker):
                markers.append(item)
            else:
                taken.append(item)
        path = self.spill.save(queued_calls(taken))
        if path is not None:
            log.warning("the usage queue is full (the store is slower than record()); %d events saved to %s "
                        "(load them with usage-bot ingest)", len(taken), path)  # fmt: skip
        for marker in markers:
            marker.complete()  # what came before it is saved, in the store or in the file


__all__ = ["EVENT_COLUMNS", "FlushMarker", "Writer", "WriterStats"]
