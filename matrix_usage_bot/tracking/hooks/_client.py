"""What the OpenAI and Anthropic SDK hooks share: one wrapper around a client's method, sync or async.

The wrapper reserves against hard quotas (with enforcement on), times the call, records a failure the SDK raises, and
either records the result or hands a stream to a proxy that records it when it ends. What a result
means (its usage, its stream events) is each hook's own business (`ClientHook.done`, `stream_call`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from ._common import (
    ESTIMATED,
    ZERO,
    Counts,
    call_fields,
    enforcing,
    error_metadata,
    log,
    record,
    release,
    reserve_async,
    reserve_sync,
)
from ._estimated import estimated_counts
from ._streams import StreamCall, TrackedAsyncStream, TrackedStream


class Pending:
    """One call in flight. As a context manager around the SDK call it records the SDK's own errors."""

    __slots__ = ("hide", "hook", "kind", "kwargs", "reservation", "stream", "t0")

    def __init__(self, hook: ClientHook, kind: str, kwargs: dict[str, Any], stream: bool, hide: bool = False) -> None:
        self.hook, self.kind, self.kwargs, self.stream, self.hide = hook, kind, kwargs, stream, hide
        self.reservation: str | None = None
        self.t0 = time.perf_counter()

    @property
    def model(self) -> str | None:
        return self.kwargs.get("model")

    def latency_ms(self) -> float:
        return (time.perf_counter() - self.t0) * 1000.0

    def __enter__(self) -> Pending:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is not None and isinstance(exc, self.hook.errors):
            self.hook.failed(self, exc)
        elif exc is not None:  # not the provider's failure (cancelled, interrupted): nothing is recorded
            release(self.hook.tracker, self.reservation)
        return False

    def done(self, result: Any, proxy: type[TrackedStream] | type[TrackedAsyncStream]) -> Any:
        """The SDK returned: a stream goes back inside a recording proxy, anything else is recorded now."""
        if self.stream:
            return proxy(result, self.hook.open_stream(self), self.hook.errors)
        self.hook.done(self, result)
        return result


class ClientHook:
    """The facts shared by every wrapped method of one instrumented client."""

    runtime = "unknown"

    def __init__(self, tracker: Any, provider: str, enforce: bool | None,
                 errors: tuple[type[BaseException], ...]) -> None:  # fmt: skip
        self.tracker = tracker
        self.provider = provider
        self.enforce = enforce
        self.errors = errors

    def begin(self, kind: str, kwargs: dict[str, Any]) -> Pending:
        return Pending(self, kind, kwargs, kwargs.get("stream") is True)

    def operation(self, kind: str) -> str | None:
        return None

    def counts(self, kind: str, result: Any) -> Counts:
        """The usage of a result that has some (`result.usage`), in docs/events.md terms; runs on the
        tracker's writer thread."""
        raise NotImplementedError

    def output_text(self, kind: str, result: Any) -> str:
        """The reply's text, for an estimate when the result carries no usage."""
        return ""

    def stream_call(self, pending: Pending) -> StreamCall:
        raise NotImplementedError

    def open_stream(self, pending: Pending) -> StreamCall:
        """The stream's recorder, which ends the call's reservation when it records."""
        call = self.stream_call(pending)
        call.reservation = pending.reservation
        call.payload = pending.kwargs
        return call

    def begin_enforced(self, kind: str, kwargs: dict[str, Any], reservation: str | None) -> Pending:
        pending = self.begin(kind, kwargs)
        pending.reservation = reservation
        return pending

    def record(self, pending: Pending, model: str | None, counts: Counts, **kwargs: Any) -> None:
        record(self.tracker, self.provider, model, counts, pending.latency_ms(), runtime=self.runtime,
               operation=self.operation(pending.kind), reservation=pending.reservation, **kwargs)  # fmt: skip

    def done(self, pending: Pending, result: Any) -> None:
        """A result with usage is queued as it is and read on the tracker's writer thread (`fields`); one
        without is estimated now, from the request and the reply as the caller has them yet."""
        try:
            model = getattr(result, "model", None) or pending.model
            if getattr(result, "usage", None) is not None:
                self.tracker.record_later(self.fields, self.provider, pending.kind, result, model,
                                          pending.latency_ms(), pending.reservation)  # fmt: skip
                return
            counts = estimated_counts(pending.kwargs, self.output_text(pending.kind, result), self.provider, model)
        except Exception:
            log.warning("could not record the %s result from %s", pending.kind, self.provider, exc_info=True)
            return
        self.record(pending, model, counts, usage_source=ESTIMATED)

    def fields(self, provider: str, kind: str, result: Any, model: str | None, latency_ms: float,
               reservation: str | None) -> dict[str, Any]:  # fmt: skip
        return call_fields(provider, model, self.counts(kind, result), latency_ms, runtime=self.runtime,
                           operation=self.operation(kind), reservation=reservation)  # fmt: skip

    def failed(self, pending: Pending, exc: BaseException) -> None:
        self.record(pending, pending.model, ZERO, status="error", metadata=error_metadata(exc))


def wrap(hook: ClientHook, kind: str, original: Callable[..., Any], is_async: bool) -> Callable[..., Any]:
    """`original` (a bound SDK method) recorded on `hook`; the caller sees its result unchanged."""
    if is_async:

        @functools.wraps(original)
        async def call_async(*args: Any, **kwargs: Any) -> Any:
            held = None
            if enforcing(hook.enforce, hook.tracker):
                held = await reserve_async(hook.tracker, hook.provider, kwargs.get("model"), kwargs)
            pending = hook.begin_enforced(kind, kwargs, held)
            with pending:
                result = await original(*args, **kwargs)
            return pending.done(result, TrackedAsyncStream)

        return call_async

    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        held = None
        if enforcing(hook.enforce, hook.tracker):
            held = reserve_sync(hook.tracker, hook.provider, kwargs.get("model"), kwargs)
        pending = hook.begin_enforced(kind, kwargs, held)
        with pending:
            result = original(*args, **kwargs)
        return pending.done(result, TrackedStream)

    return call
