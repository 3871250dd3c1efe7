"""OpenAI SDK hook: Chat Completions, the Responses API and embeddings, sync and async, streaming included.

`instrument_openai(client, tracker)` replaces `create` (and `parse`) of the client's `chat.completions`,
`responses` and `embeddings` resources on that client instance only. Calls through `with_raw_response` /
`with_streaming_response`, and clients derived later with `with_options()` / `copy()`, are not recorded.

Streaming chat calls: the hook asks for `stream_options.include_usage` when the caller did not, and then
hides the extra usage-only chunk (empty `choices`) from the caller, who sees exactly the chunks they would
see without the hook; a caller that asked for usage gets that chunk as OpenAI documents it.

Usage conversion (docs/conversions.md): OpenAI already follows docs/events.md. Chat Completions'
`prompt_tokens` include `prompt_tokens_details.cached_tokens` and `completion_tokens` include
`completion_tokens_details.reasoning_tokens`; the Responses API says the same with `input_tokens` /
`input_tokens_details.cached_tokens` and `output_tokens` / `output_tokens_details.reasoning_tokens`.
Audio and image tokens come from `prompt_tokens_details` / `completion_tokens_details`, web searches
from the Responses API's `web_search_call` output items. A reply without `usage` (some
OpenAI-compatible servers), or a stream that ends without its usage chunk, is estimated
(`tracking.estimate`) and stored with `usage_source = "estimated"`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import openai

from ._client import ClientHook, Pending, wrap
from ._common import Counts, number, openai_counts, part, warm_up
from ._estimated import calls_text, chat_text
from ._providers import provider_from_base_url
from ._streams import StreamCall

_MARK = "_usage_tracking_hook"


chat_counts = openai_counts


def responses_counts(usage: Any, output: Any = None) -> Counts:
    """Responses API usage: input_tokens include cached tokens, output_tokens include reasoning.

    Web searches are not in `usage`: each `web_search_call` item of the response's `output` is one.
    """
    inp, out = part(usage, "input_tokens_details"), part(usage, "output_tokens_details")
    searches = sum(1 for item in output or () if part(item, "type") == "web_search_call")
    return Counts(input_tokens=number(usage, "input_tokens"), output_tokens=number(usage, "output_tokens"),
                  cache_read_tokens=number(inp, "cached_tokens"), cache_write_tokens=number(inp, "cache_write_tokens"),
                  reasoning_tokens=number(out, "reasoning_tokens"), web_searches=searches)  # fmt: skip


def responses_text(response: Any) -> str:
    """The output of a Responses API reply: its text and its function calls (name and arguments)."""
    calls = [item for item in getattr(response, "output", None) or () if part(item, "type") == "function_call"]
    return (getattr(response, "output_text", "") or "") + calls_text(calls)


class ChatStreamCall(StreamCall):
    __slots__ = ("hide_usage_chunk",)
    runtime = "openai"

    def observe(self, chunk: Any) -> bool:
        self.chunks += 1
        if self.chunks == 1 and getattr(chunk, "model", None):
            self.model = chunk.model
        usage = getattr(chunk, "usage", None)
        if usage is None:
            for choice in chunk.choices or ():
                if choice.delta is not None:
                    self.text.append((choice.delta.content or "") + calls_text(choice.delta.tool_calls))
            return True
        self.counts = chat_counts(usage)
        self.usage_seen = True
        if chunk.choices:
            return True
        self.finish()
        return not self.hide_usage_chunk


class ResponsesStreamCall(StreamCall):
    __slots__ = ()
    runtime = "openai"
    _TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})

    def observe(self, event: Any) -> bool:
        self.chunks += 1
        if getattr(event, "type", None) in self._TERMINAL:
            response = event.response
            self.model = getattr(response, "model", None) or self.model
            if response.usage is not None:
                self.counts = responses_counts(response.usage, response.output)
                self.usage_seen = True
            else:
                self.text.append(responses_text(response))
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


_COUNTS: dict[str, Callable[[Any], Counts]] = {
    "chat": lambda result: chat_counts(result.usage),
    "responses": lambda result: responses_counts(result.usage, getattr(result, "output", None)),
    "embeddings": lambda result: Counts(input_tokens=number(result.usage, "prompt_tokens")),
}


class _Hook(ClientHook):
    """The facts shared by every wrapped method of one client."""

    runtime = "openai"

    def __init__(self, tracker: Any, provider: str, enforce: bool | None) -> None:
        super().__init__(tracker, provider, enforce, (openai.APIError,))

    def begin(self, kind: str, kwargs: dict[str, Any]) -> Pending:
        stream = kind != "embeddings" and kwargs.get("stream") is True
        return Pending(self, kind, kwargs, stream, stream and kind == "chat" and _ask_for_usage(kwargs))

    def operation(self, kind: str) -> str | None:
        return "embedding" if kind == "embeddings" else None

    def counts(self, kind: str, result: Any) -> Counts:
        return _COUNTS[kind](result)

    def output_text(self, kind: str, result: Any) -> str:
        if kind == "chat":
            return chat_text(result)
        return responses_text(result) if kind == "responses" else ""

    def stream_call(self, pending: Pending) -> StreamCall:
        if pending.kind == "chat":
            call = ChatStreamCall(self.tracker, self.provider, pending.model, pending.t0)
            call.hide_usage_chunk = pending.hide
            return call
        return ResponsesStreamCall(self.tracker, self.provider, pending.model, pending.t0)


def _sync(hook: _Hook, kind: str, original: Callable[..., Any]) -> Callable[..., Any]:
    return wrap(hook, kind, original, False)


def _wrap(hook: _Hook, resource: Any, method: str, kind: str, is_async: bool) -> None:
    original = getattr(resource, method, None)
    if original is None:
        return
    # Bind the raw/streaming-response helpers to the SDK's own methods before ours replace them.
    for helper in ("with_raw_response", "with_streaming_response"):
        getattr(resource, helper, None)
    is_async = is_async or inspect.iscoroutinefunction(inspect.unwrap(original))
    setattr(resource, method, wrap(hook, kind, original, is_async))


def instrument_openai(client: Any, tracker: Any, enforce: bool | None = None, *, provider: str | None = None) -> Any:
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
