"""OpenAI SDK hook: Chat Completions, the Responses API and embeddings, sync and async, streaming included.

`instrument_openai(client, tracker)` replaces `create` (and `parse`) of the client's `chat.completions`,
`responses` and `embeddings` resources on that client instance only. Calls through `with_raw_response` /
`with_streaming_response`, and clients derived later with `with_options()` / `copy()`, are not recorded.

Streaming chat calls: the hook asks for `stream_options.include_usage` when the caller did not, and then
hides the extra usage-only chunk (empty `choices`) from the caller, who sees exactly the chunks they would
see without the hook; a caller that asked for usage gets that chunk as OpenAI documents it.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from typing import Any

import openai

from ._common import (
    Counts,
    enforce_async,
    enforce_sync,
    error_metadata,
    log,
    provider_from_base_url,
    record,
    warm_up,
)
from ._streams import StreamCall, TrackedAsyncStream, TrackedStream

_MARK = "_usage_tracking_hook"


def chat_counts(usage: Any) -> Counts:
    """Chat Completions usage: prompt_tokens already include cached tokens, completion_tokens reasoning."""
    prompt = getattr(usage, "prompt_tokens", 0) or 0
    read = write = reasoning = 0
    details = getattr(usage, "prompt_tokens_details", None)
    if details is not None:
        read = getattr(details, "cached_tokens", 0) or 0
        write = getattr(details, "cache_write_tokens", 0) or 0
    out_details = getattr(usage, "completion_tokens_details", None)
    if out_details is not None:
        reasoning = getattr(out_details, "reasoning_tokens", 0) or 0
    return prompt, getattr(usage, "completion_tokens", 0) or 0, read, write, reasoning


def responses_counts(usage: Any) -> Counts:
    read = write = reasoning = 0
    details = getattr(usage, "input_tokens_details", None)
    if details is not None:
        read = getattr(details, "cached_tokens", 0) or 0
        write = getattr(details, "cache_write_tokens", 0) or 0
    out_details = getattr(usage, "output_tokens_details", None)
    if out_details is not None:
        reasoning = getattr(out_details, "reasoning_tokens", 0) or 0
    return getattr(usage, "input_tokens", 0) or 0, getattr(usage, "output_tokens", 0) or 0, read, write, reasoning


class ChatStreamCall(StreamCall):
    __slots__ = ("hide_usage_chunk",)

    def observe(self, chunk: Any) -> bool:
        self.chunks += 1
        if self.chunks == 1 and getattr(chunk, "model", None):
            self.model = chunk.model
        usage = getattr(chunk, "usage", None)
        if usage is None:
            return True
        self.counts = chat_counts(usage)
        self.usage_seen = True
        if chunk.choices:
            return True
        self.finish()
        return not self.hide_usage_chunk


class ResponsesStreamCall(StreamCall):
    __slots__ = ()
    _TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})

    def observe(self, event: Any) -> bool:
        self.chunks += 1
        if getattr(event, "type", None) in self._TERMINAL:
            response = event.response
            self.model = getattr(response, "model", None) or self.model
            if response.usage is not None:
                self.counts = responses_counts(response.usage)
                self.usage_seen = True
            self.finish("error" if event.type == "response.failed" else "completed")
        return True


def _ask_for_usage(kwargs: dict[str, Any]) -> bool:
    """Make a streaming chat call report usage; True when the hook (not the caller) asked for it."""
    options = kwargs.get("stream_options")
    if isinstance(options, dict):
        if options.get("include_usage"):
            return False
        kwargs["stream_options"] = {**options, "include_usage": True}
    else:
        kwargs["stream_options"] = {"include_usage": True}
    return True


class _Hook:
    """The facts shared by every wrapped method of one client."""

    def __init__(self, tracker: Any, provider: str, enforce: bool) -> None:
        self.tracker = tracker
        self.provider = provider
        self.enforce = enforce
        self.errors: tuple[type[BaseException], ...] = (openai.APIError,)

    def done(self, kind: str, result: Any, kwargs: dict[str, Any], t0: float) -> None:
        latency = (time.perf_counter() - t0) * 1000.0
        try:
            usage = result.usage
            if kind == "chat":
                counts = chat_counts(usage) if usage is not None else (0, 0, 0, 0, 0)
                operation = None
            elif kind == "responses":
                counts = responses_counts(usage) if usage is not None else (0, 0, 0, 0, 0)
                operation = None
            else:
                counts = (getattr(usage, "prompt_tokens", 0) or 0, 0, 0, 0, 0)
                operation = "embedding"
            model = getattr(result, "model", None) or kwargs.get("model")
        except Exception:
            log.warning("unexpected %s result from %s; usage not recorded", kind, self.provider, exc_info=True)
            return
        record(self.tracker, self.provider, model, counts, latency, operation=operation)

    def failed(self, kind: str, kwargs: dict[str, Any], t0: float, exc: BaseException) -> None:
        latency = (time.perf_counter() - t0) * 1000.0
        operation = "embedding" if kind == "embeddings" else None
        record(self.tracker, self.provider, kwargs.get("model"), (0, 0, 0, 0, 0), latency, status="error",
               operation=operation, metadata=error_metadata(exc))  # fmt: skip

    def stream_call(self, kind: str, kwargs: dict[str, Any], t0: float, hide: bool) -> StreamCall:
        if kind == "chat":
            call = ChatStreamCall(self.tracker, self.provider, kwargs.get("model"), t0)
            call.hide_usage_chunk = hide
            return call
        return ResponsesStreamCall(self.tracker, self.provider, kwargs.get("model"), t0)


def _sync(hook: _Hook, kind: str, original: Callable[..., Any]) -> Callable[..., Any]:
    streams = kind != "embeddings"

    @functools.wraps(original)
    def create(*args: Any, **kwargs: Any) -> Any:
        if hook.enforce:
            enforce_sync(hook.tracker)
        stream = streams and kwargs.get("stream") is True
        hide = stream and kind == "chat" and _ask_for_usage(kwargs)
        t0 = time.perf_counter()
        try:
            result = original(*args, **kwargs)
        except hook.errors as exc:
            hook.failed(kind, kwargs, t0, exc)
            raise
        if stream:
            return TrackedStream(result, hook.stream_call(kind, kwargs, t0, hide), hook.errors)
        hook.done(kind, result, kwargs, t0)
        return result

    return create


def _async(hook: _Hook, kind: str, original: Callable[..., Any]) -> Callable[..., Any]:
    streams = kind != "embeddings"

    @functools.wraps(original)
    async def create(*args: Any, **kwargs: Any) -> Any:
        if hook.enforce:
            await enforce_async(hook.tracker)
        stream = streams and kwargs.get("stream") is True
        hide = stream and kind == "chat" and _ask_for_usage(kwargs)
        t0 = time.perf_counter()
        try:
            result = await original(*args, **kwargs)
        except hook.errors as exc:
            hook.failed(kind, kwargs, t0, exc)
            raise
        if stream:
            return TrackedAsyncStream(result, hook.stream_call(kind, kwargs, t0, hide), hook.errors)
        hook.done(kind, result, kwargs, t0)
        return result

    return create


def _wrap(hook: _Hook, resource: Any, method: str, kind: str, is_async: bool) -> None:
    original = getattr(resource, method, None)
    if original is None:
        return
    # Bind the raw/streaming-response helpers to the SDK's own methods before ours replace them.
    for helper in ("with_raw_response", "with_streaming_response"):
        getattr(resource, helper, None)
    factory = _async if is_async or inspect.iscoroutinefunction(inspect.unwrap(original)) else _sync
    setattr(resource, method, factory(hook, kind, original))


def instrument_openai(client: Any, tracker: Any, enforce: bool = False, *, provider: str | None = None) -> Any:
    """Record every chat, responses and embeddings call of this OpenAI / AsyncOpenAI client on `tracker`.

    `provider` overrides the name taken from the client's base_url (for gateways and proxies).
    Instrumenting the same client again only updates the tracker, provider and enforce flag.
    """
    existing: _Hook | None = getattr(client, _MARK, None)
    name = provider or provider_from_base_url(client.base_url)
    if existing is not None:
        existing.tracker, existing.provider, existing.enforce = tracker, name, enforce
        return client
    warm_up()
    hook = _Hook(tracker, name, enforce)
    is_async = isinstance(client, openai.AsyncOpenAI)
    _wrap(hook, client.chat.completions, "create", "chat", is_async)
    _wrap(hook, client.chat.completions, "parse", "chat", is_async)
    _wrap(hook, client.responses, "create", "responses", is_async)
    _wrap(hook, client.responses, "parse", "responses", is_async)
    _wrap(hook, client.embeddings, "create", "embeddings", is_async)
    setattr(client, _MARK, hook)
    return client
