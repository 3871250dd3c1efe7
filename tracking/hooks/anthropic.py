"""Anthropic SDK hook: `messages.create` (streaming or not) and `messages.stream`, sync and async.

Anthropic reports `input_tokens` without the cached parts; SPEC section 2 counts every prompt token, so
input = input_tokens + cache_creation_input_tokens + cache_read_input_tokens. Reasoning is
`output_tokens_details.thinking_tokens` when the API reports it (it is part of `output_tokens`).
Streams take usage from `message_start` and the cumulative `message_delta`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import anthropic

from ._common import ZERO, Counts, enforce_async, enforce_sync, error_metadata, record, warm_up
from ._streams import StreamCall, TrackedAsyncStream, TrackedStream

_MARK = "_usage_tracking_hook"


def message_counts(usage: Any) -> Counts:
    write = getattr(usage, "cache_creation_input_tokens", 0) or 0
    read = getattr(usage, "cache_read_input_tokens", 0) or 0
    out = getattr(usage, "output_tokens", 0) or 0
    details = getattr(usage, "output_tokens_details", None)
    reasoning = (getattr(details, "thinking_tokens", 0) or 0) if details is not None else 0
    return (getattr(usage, "input_tokens", 0) or 0) + read + write, out, read, write, reasoning


class MessageStreamCall(StreamCall):
    """Raw stream events: message_start gives input and cache counts, message_delta cumulative totals."""

    __slots__ = ("usage",)

    def observe(self, event: Any) -> bool:
        self.chunks += 1
        kind = getattr(event, "type", None)
        if kind == "message_start":
            self.model = getattr(event.message, "model", None) or self.model
            self.usage = {k: v for k, v in _usage_dict(event.message.usage).items() if v is not None}
        elif kind == "message_delta":
            usage = getattr(self, "usage", None) or {}
            usage.update({k: v for k, v in _usage_dict(event.usage).items() if v is not None})
            self.usage = usage
        else:
            if kind == "message_stop":
                self.usage_seen = True
                self.finish()
            return True
        self.counts = message_counts(SimpleNamespace(**self.usage))
        self.usage_seen = True
        return True


def _usage_dict(usage: Any) -> dict[str, Any]:
    return {name: getattr(usage, name, None) for name in
            ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
             "output_tokens_details")}  # fmt: skip


class _Hook:
    def __init__(self, tracker: Any, provider: str, enforce: bool) -> None:
        self.tracker = tracker
        self.provider = provider
        self.enforce = enforce
        self.errors: tuple[type[BaseException], ...] = (anthropic.APIError,)

    def done(self, result: Any, kwargs: dict[str, Any], t0: float) -> None:
        latency = (time.perf_counter() - t0) * 1000.0
        usage = getattr(result, "usage", None)
        counts = message_counts(usage) if usage is not None else ZERO
        record(self.tracker, self.provider, getattr(result, "model", None) or kwargs.get("model"), counts, latency)

    def failed(self, kwargs: dict[str, Any], t0: float, exc: BaseException) -> None:
        latency = (time.perf_counter() - t0) * 1000.0
        record(self.tracker, self.provider, kwargs.get("model"), ZERO, latency, status="error",
               metadata=error_metadata(exc))  # fmt: skip

    def from_snapshot(self, stream: Any, kwargs: dict[str, Any], t0: float, exc: BaseException | None) -> None:
        """Record a `messages.stream()` call from the helper's accumulated message when its block exits."""
        call = StreamCall(self.tracker, self.provider, kwargs.get("model"), t0)
        snapshot = None
        try:
            snapshot = stream.current_message_snapshot
        except AssertionError:
            pass
        if snapshot is not None:
            call.model = snapshot.model or call.model
            call.counts = message_counts(snapshot.usage)
            call.usage_seen = True
        if isinstance(exc, self.errors):
            call.finish("error", exc)
        elif snapshot is None or snapshot.stop_reason is None:
            call.abandon()
        else:
            call.finish()


class _StreamManager:
    """Stands in for MessageStreamManager: the caller gets the SDK's own MessageStream object."""

    def __init__(self, hook: _Hook, manager: Any, kwargs: dict[str, Any]) -> None:
        self._hook, self._manager, self._kwargs = hook, manager, kwargs
        self._stream: Any = None
        self._t0 = 0.0

    def __enter__(self) -> Any:
        if self._hook.enforce:
            enforce_sync(self._hook.tracker)
        self._t0 = time.perf_counter()
        try:
            self._stream = self._manager.__enter__()
        except self._hook.errors as exc:
            self._hook.failed(self._kwargs, self._t0, exc)
            raise
        return self._stream

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        try:
            return self._manager.__exit__(exc_type, exc, tb)
        finally:
            self._hook.from_snapshot(self._stream, self._kwargs, self._t0, exc)

    async def __aenter__(self) -> Any:
        if self._hook.enforce:
            await enforce_async(self._hook.tracker)
        self._t0 = time.perf_counter()
        try:
            self._stream = await self._manager.__aenter__()
        except self._hook.errors as exc:
            self._hook.failed(self._kwargs, self._t0, exc)
            raise
        return self._stream

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        try:
            return await self._manager.__aexit__(exc_type, exc, tb)
        finally:
            self._hook.from_snapshot(self._stream, self._kwargs, self._t0, exc)


def _sync_create(hook: _Hook, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def create(*args: Any, **kwargs: Any) -> Any:
        if hook.enforce:
            enforce_sync(hook.tracker)
        t0 = time.perf_counter()
        try:
            result = original(*args, **kwargs)
        except hook.errors as exc:
            hook.failed(kwargs, t0, exc)
            raise
        if kwargs.get("stream") is True:
            return TrackedStream(result, MessageStreamCall(hook.tracker, hook.provider, kwargs.get("model"), t0),
                                 hook.errors)  # fmt: skip
        hook.done(result, kwargs, t0)
        return result

    return create


def _async_create(hook: _Hook, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def create(*args: Any, **kwargs: Any) -> Any:
        if hook.enforce:
            await enforce_async(hook.tracker)
        t0 = time.perf_counter()
        try:
            result = await original(*args, **kwargs)
        except hook.errors as exc:
            hook.failed(kwargs, t0, exc)
            raise
        if kwargs.get("stream") is True:
            call = MessageStreamCall(hook.tracker, hook.provider, kwargs.get("model"), t0)
            return TrackedAsyncStream(result, call, hook.errors)
        hook.done(result, kwargs, t0)
        return result

    return create


def _stream(hook: _Hook, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def stream(*args: Any, **kwargs: Any) -> _StreamManager:
        return _StreamManager(hook, original(*args, **kwargs), kwargs)

    return stream


def _default_provider(client: Any) -> str:
    name = type(client).__name__.lower()
    if "bedrock" in name:
        return "aws"
    if "vertex" in name:
        return "google"
    return "anthropic"


def instrument_anthropic(client: Any, tracker: Any, enforce: bool = False, *, provider: str | None = None) -> Any:
    """Record every `messages.create` / `messages.stream` call of this Anthropic / AsyncAnthropic client."""
    existing: _Hook | None = getattr(client, _MARK, None)
    name = provider or _default_provider(client)
    if existing is not None:
        existing.tracker, existing.provider, existing.enforce = tracker, name, enforce
        return client
    warm_up()
    hook = _Hook(tracker, name, enforce)
    messages = client.messages
    for helper in ("with_raw_response", "with_streaming_response"):
        getattr(messages, helper, None)
    is_async = isinstance(client, anthropic.AsyncAnthropic) or "async" in type(client).__name__.lower()
    messages.create = (_async_create if is_async else _sync_create)(hook, messages.create)
    messages.stream = _stream(hook, messages.stream)
    setattr(client, _MARK, hook)
    return client
