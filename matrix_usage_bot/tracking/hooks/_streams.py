"""Stream proxies: the caller sees the SDK's stream unchanged; the call is recorded exactly once.

A stream is recorded when its terminal event carries the usage (usage-only chunk, `response.completed`,
`message_stop`), when it ends, when it fails, or, if the caller leaves it halfway, when it is closed or
garbage-collected: then with the usage known so far and `metadata.stream = "abandoned"`. A stream
that ends or is left before any usage arrived is recorded with its usage estimated from the request
and the text streamed so far (`usage_source = "estimated"`), never as 0 tokens.
"""

from __future__ import annotations

import time
from typing import Any

from ._common import ESTIMATED, ZERO, Counts, error_metadata, record
from ._estimated import estimated_counts


class StreamCall:
    """One streamed call: what is known of it so far, and the one-time recording.

    Subclasses read their SDK's events (`observe`) and name their runtime for the log.
    """

    __slots__ = ("agent", "chunks", "counts", "done", "model", "operation", "payload", "provider", "reservation", "t0",
                 "text", "tracker", "usage_seen")
    runtime = "unknown"

    def __init__(self, tracker: Any, provider: str, model: str | None, t0: float,
                 operation: str | None = None, agent: str | None = None) -> None:  # fmt: skip
        self.tracker = tracker
        self.provider = provider
        self.model = model
        self.t0 = t0
        self.operation = operation
        self.agent = agent
        self.counts: Counts = ZERO
        self.usage_seen = False
        self.chunks = 0
        self.done = False
        self.reservation: str | None = None
        self.payload: dict[str, Any] | None = None
        """The request, when the hook knows it: what an estimate of missing usage counts."""
        self.text: list[str] = []
        """The reply's text and tool-call deltas, kept by hooks whose streams may end without usage."""

    def observe(self, item: Any) -> bool:
        """Look at one item; False hides it from the caller (only what the hook itself asked for)."""
        self.chunks += 1
        return True

    def finish(self, outcome: str = "completed", exc: BaseException | None = None) -> None:
        if self.done:
            return
        self.done = True
        status = "ok"
        metadata: dict[str, Any] | None = None
        if outcome == "error":
            status = "error"
            extra = {"stream": "error", "chunks": self.chunks}
            metadata = error_metadata(exc, extra) if exc is not None else extra
        elif outcome != "completed":
            metadata = {"stream": outcome, "chunks": self.chunks}
        latency = (time.perf_counter() - self.t0) * 1000.0
        source = None
        if not self.usage_seen and status == "ok" and self.payload is not None:
            self.counts = estimated_counts(self.payload, "".join(self.text), self.provider, self.model)
            source = ESTIMATED
        record(self.tracker, self.provider, self.model, self.counts, latency, runtime=self.runtime, status=status,
               operation=self.operation, agent=self.agent, metadata=metadata, reservation=self.reservation,
               usage_source=source)  # fmt: skip

    def end(self) -> None:
        self.finish("completed" if self.usage_seen else "no_usage")

    def abandon(self) -> None:
        self.finish("abandoned")

    def stopped(self, exc: BaseException, errors: tuple[type[BaseException], ...]) -> None:
        """The stream raised: its normal end, the provider's error, or the caller leaving (cancelled, interrupted)."""
        if isinstance(exc, StopIteration | StopAsyncIteration):
            self.end()
        elif isinstance(exc, errors):
            self.finish("error", exc)
        else:
            self.abandon()


class _Tracked:
    """What both proxies share: the wrapped stream, its call, and the SDK attributes passed through."""

    def __init__(self, inner: Any, call: StreamCall, error_types: tuple[type[BaseException], ...]) -> None:
        self._inner = inner
        self._call = call
        self._errors = error_types

    def __del__(self) -> None:
        call = self.__dict__.get("_call")
        if call is not None and not call.done:
            try:
                call.abandon()
            except Exception:
                pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_inner"], name)


class TrackedStream(_Tracked):
    """Wraps a synchronous SDK stream (iterator with close() and context manager)."""

    def __iter__(self) -> TrackedStream:
        return self

    def __next__(self) -> Any:
        while True:
            try:
                item = next(self._inner)
            except BaseException as exc:
                self._call.stopped(exc, self._errors)
                raise
            if self._call.observe(item):
                return item

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._call.abandon()

    def __enter__(self) -> TrackedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TrackedAsyncStream(_Tracked):
    """Wraps an asynchronous SDK stream (async iterator with async close() and async context manager)."""

    def __aiter__(self) -> TrackedAsyncStream:
        return self

    async def __anext__(self) -> Any:
        item = await self._next()
        while not self._call.observe(item):
            item = await self._next()
        return item

    async def _next(self) -> Any:
        try:
            return await self._inner.__anext__()
        except BaseException as exc:
            self._call.stopped(exc, self._errors)
            raise

    async def close(self) -> None:
        try:
            await self._inner.close()
        finally:
            self._call.abandon()

    async def __aenter__(self) -> TrackedAsyncStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
