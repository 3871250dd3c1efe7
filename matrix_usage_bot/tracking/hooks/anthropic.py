"""Anthropic SDK hook: `messages.create` (streaming or not) and `messages.stream`, sync and async.

Usage conversion (docs/conversions.md): Anthropic reports `input_tokens` without the cached parts; docs/events.md
counts every prompt token, so input = input_tokens + cache_creation_input_tokens +
cache_read_input_tokens. `cache_creation.ephemeral_1h_input_tokens` is the part of the cache writes made
with a 1-hour TTL (the rest, `ephemeral_5m_input_tokens`, is the default 5 minutes).
`server_tool_use.web_search_requests` counts the web searches the server ran. Reasoning is
`output_tokens_details.thinking_tokens` when the API reports it (it is part of `output_tokens`).
Streams take usage from `message_start` (input, cache and its TTL breakdown) and the cumulative
`message_delta`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import anthropic

from ._client import ClientHook, Pending, wrap
from ._common import Counts, anthropic_counts, enforcing, reserve_async, reserve_sync, warm_up
from ._estimated import calls_text
from ._streams import StreamCall

_MARK = "_usage_tracking_hook"
_USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
                 "cache_creation", "output_tokens_details", "server_tool_use")  # fmt: skip


class MessageStreamCall(StreamCall):
    """Raw stream events: message_start gives input and cache counts, message_delta cumulative totals."""

    __slots__ = ("usage",)
    runtime = "anthropic"

    def observe(self, event: Any) -> bool:
        self.chunks += 1
        kind = getattr(event, "type", None)
        if kind == "message_start":
            self.model = getattr(event.message, "model", None) or self.model
            self._add(getattr(event.message, "usage", None))
        elif kind == "message_delta":
            self._add(getattr(event, "usage", None))
        elif kind == "content_block_delta":  # text, or a tool call's input as JSON pieces
            delta = getattr(event, "delta", None)
            self.text.append(getattr(delta, "text", None) or getattr(delta, "partial_json", None) or "")
        elif kind == "content_block_start" and getattr(event.content_block, "type", None) == "tool_use":
            self.text.append(event.content_block.name)
        elif kind == "message_stop":
            self.finish()  # a stream whose events carried no usage is estimated
        return True

    def _add(self, usage: Any) -> None:
        if usage is None:
            return
        self.usage = {**(getattr(self, "usage", None) or {}), **_reported(usage)}
        self.counts = anthropic_counts(self.usage)
        self.usage_seen = True


def _reported(usage: Any) -> dict[str, Any]:
    """The usage fields an event carries (a message_delta leaves out what did not change)."""
    return {name: value for name in _USAGE_FIELDS if (value := getattr(usage, name, None)) is not None}


class _Hook(ClientHook):
    runtime = "anthropic"

    def __init__(self, tracker: Any, provider: str, enforce: bool | None) -> None:
        super().__init__(tracker, provider, enforce, (anthropic.APIError,))

    def counts(self, kind: str, result: Any) -> Counts:
        return anthropic_counts(result.usage)

    def output_text(self, kind: str, result: Any) -> str:
        """The reply's text blocks and tool calls (`tool_use`: name and input)."""
        blocks = getattr(result, "content", None) or ()
        calls = [block for block in blocks if getattr(block, "type", None) == "tool_use"]
        return "".join(getattr(block, "text", None) or "" for block in blocks) + calls_text(calls)

    def stream_call(self, pending: Pending) -> StreamCall:
        return MessageStreamCall(self.tracker, self.provider, pending.model, pending.t0)

    def from_snapshot(self, stream: Any, pending: Pending, exc: BaseException | None) -> None:
        """Record a `messages.stream()` call from the helper's accumulated message when its block exits."""
        call = self.open_stream(pending)
        snapshot = None
        try:
            snapshot = stream.current_message_snapshot
        except AssertionError:
            pass
        if snapshot is not None:
            call.model = snapshot.model or call.model
            call.counts = anthropic_counts(snapshot.usage)
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
        self._pending: Pending | None = None

    def _enter(self, reservation: str | None) -> Pending:
        self._pending = Pending(self._hook, "stream", self._kwargs, True)
        self._pending.reservation = reservation
        return self._pending

    def _enforced(self) -> bool:
        return enforcing(self._hook.enforce, self._hook.tracker)

    def __enter__(self) -> Any:
        hook, held = self._hook, None
        if self._enforced():
            held = reserve_sync(hook.tracker, hook.provider, self._kwargs.get("model"), self._kwargs)
        with self._enter(held):
            self._stream = self._manager.__enter__()
        return self._stream

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        try:
            return self._manager.__exit__(exc_type, exc, tb)
        finally:
            self._hook.from_snapshot(self._stream, self._pending, exc)  # type: ignore[arg-type]

    async def __aenter__(self) -> Any:
        hook, held = self._hook, None
        if self._enforced():
            held = await reserve_async(hook.tracker, hook.provider, self._kwargs.get("model"), self._kwargs)
        with self._enter(held):
            self._stream = await self._manager.__aenter__()
        return self._stream

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        try:
            return await self._manager.__aexit__(exc_type, exc, tb)
        finally:
            self._hook.from_snapshot(self._stream, self._pending, exc)  # type: ignore[arg-type]


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


def instrument_anthropic(client: Any, tracker: Any, enforce: bool | None = None, *, provider: str | None = None) -> Any:
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
    messages.create = wrap(hook, "messages", messages.create, is_async)
    messages.stream = _stream(hook, messages.stream)
    setattr(client, _MARK, hook)
    return client
