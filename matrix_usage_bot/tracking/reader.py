"""A read connection on a thread of its own, for the questions agents ask in their call path (quotas); for
an HTTP tracker, its collector's quota endpoints instead (`remote_quotas`).

Kept off the writer: a quota check must not wait behind a batch being written, and a write must not
wait behind a check. SQLite's WAL lets this connection read while the writer writes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from .store import Store, StoreError, open_store

T = TypeVar("T")


class Reader(threading.Thread):
    def __init__(self, url: str, opener: Callable[[], Awaitable[Any]] | None = None) -> None:
        """Reads the store at ``url``; with ``opener``, what it opens instead (an HTTP tracker's collector client,
        anything with an async ``close()``)."""
        super().__init__(name="usage-reader", daemon=True)
        self.url = url
        self._open = opener
        self.ready = threading.Event()
        self.open_error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._store: Store | None = None

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        try:
            self._store = await (self._open() if self._open is not None else open_store(self.url))
        except BaseException as exc:
            self.open_error = exc
            self.ready.set()
            return
        self.ready.set()
        try:
            await self._stopping.wait()
        finally:
            await self._store.close()
            self._store = None

    def submit(self, coro_fn: Callable[[Store], Coroutine[Any, Any, T]]) -> concurrent.futures.Future[T]:
        """Run ``coro_fn(store)`` on this thread's connection."""
        if self.open_error is not None or self._loop is None or self._store is None:
            raise StoreError(f"the quota store cannot be read: {self.open_error}")
        store = self._store
        return asyncio.run_coroutine_threadsafe(coro_fn(store), self._loop)

    def close(self) -> None:
        """Stop the thread and wait for it; safe to call again, from a signal handler amid a first call too."""
        if self._loop is not None and self._stopping is not None and self.is_alive():
            try:
                self._loop.call_soon_threadsafe(self._stopping.set)
            except RuntimeError:  # the loop has closed: the thread is on its way out
                pass
            self.join()
