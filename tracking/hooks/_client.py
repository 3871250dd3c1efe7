"""What the OpenAI and Anthropic SDK hooks share: one wrapper around a client's method, sync or async.

The wrapper checks quotas (with enforce=True), times the call, records a failure the SDK raises, and
either records the result or hands a stream to a proxy that records it when it ends. What a result
means (its usage, its stream events) is each hook's own business (`ClientHook.done`, `stream_call`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from ._common import ZERO, Counts, enforce_async, enforce_sync, error_metadata, log, record
from ._streams import StreamCall, TrackedAsyncStream, TrackedStream


class Pending:
    """One call in flight. As a context manager around the SDK call it records the SDK's own errors."""

    __slots__ = ("hide", "hook", "kind", "kwargs", "stream", "t0")

    def __init__(self, hook: ClientHook, kind: str, kwargs: dict[str, Any], stream: bool, hide: bool = False) -> None:
        self.hook, self.kind, self.kwargs, self.stream, self.hide = hook, kind, kwargs, stream, hide
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
        return False

    def done(self, result: Any, proxy: type[TrackedStream] | type[TrackedAsyncStream]) -> Any:
        """The SDK returned: a stream goes back inside a recording proxy, anything else is recorded now."""
        if self.stream:
            return proxy(result, self.hook.stream_call(self), self.hook.errors)
        self.hook.done(self, result)
        return result


class ClientHook:
    """The facts shared by every wrapped method of one instrumented client."""

    runtime = "unknown"

    def __init__(self, tracker: Any, provider: str, enforce: bool, errors: tuple[type[BaseException], ...]) -> None:
        self.tracker = tracker
        self.provider = provider
        self.enforce = enforce
        self.errors = errors

    def begin(self, kind: str, kwargs: dict[str, Any]) -> Pending:
        return Pending(self, kind, kwargs, kwargs.get("stream") is True)

    def operation(self, kind: str) -> str | None:
        return None

    def counts(self, kind: str, result: Any) -> Counts:
        raise NotImplementedError

    def stream_call(self, pending: Pending) -> StreamCall:
        raise NotImplementedError

    def record(self, pending: Pending, model: str | None, counts: Counts, **kwargs: Any) -> None:
        record(self.tracker, self.provider, model, counts, pending.latency_ms(), runtime=self.runtime,
               operation=self.operation(pending.kind), **kwargs)  # fmt: skip

    def done(self, pending: Pending, result: Any) -> None:
        try:
            counts = self.counts(pending.kind, result)
            model = getattr(result, "model", None) or pending.model
        except Exception:
            log.warning("unexpected %s result from %s; usage not recorded", pending.kind, self.provider, exc_info=True)
            return
        self.record(pending, model, counts)

    def failed(self, pending: Pending, exc: BaseException) -> None:
        self.record(pending, pending.model, ZERO, status="error", metadata=error_metadata(exc))


def wrap(hook: ClientHook, kind: str, original: Callable[..., Any], is_async: bool) -> Callable[..., Any]:
    """`original` (a bound SDK method) recorded on `hook`; the caller sees its result unchanged."""
    if is_async:

        @functools.wraps(original)
        async def call_async(*args: Any, **kwargs: Any) -> Any:
            if hook.enforce:
                await enforce_async(hook.tracker)
            pending = hook.begin(kind, kwargs)
            with pending:
                result = await original(*args, **kwargs)
            return pending.done(result, TrackedAsyncStream)

        return call_async

    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        if hook.enforce:
            enforce_sync(hook.tracker)
        pending = hook.begin(kind, kwargs)
        with pending:
            result = original(*args, **kwargs)
        return pending.done(result, TrackedStream)

    return call
