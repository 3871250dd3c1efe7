"""LiteLLM callback: `litellm.callbacks = [UsageLogger(tracker)]`.

LiteLLM calls `log_success_event` for sync calls and `async_log_success_event` for async ones; for a stream it
calls them once, when the stream ends, with the assembled response. A call id seen before is not recorded
again, so a logger registered twice or called on both paths counts a call once.

Usage conversion (docs/conversions.md): LiteLLM normalises every provider's usage to the OpenAI shape
before the callback sees it: `prompt_tokens` include cache reads and writes (it adds Anthropic's and Bedrock
Converse's cache counts back itself), `completion_tokens` include reasoning (it adds Gemini's and Vertex's
`thoughtsTokenCount` itself). The cache writes are `prompt_tokens_details.cache_creation_tokens` (or the
top-level `cache_creation_input_tokens`), their 1-hour part
`prompt_tokens_details.cache_creation_token_details.ephemeral_1h_input_tokens` (Anthropic's
`cache_creation`, Bedrock's `cacheDetails`).
A call whose provider reported no usage is estimated (`tracking.estimate`) from the request's `messages`
(and `tools`) and the reply's text, and stored with `usage_source = "estimated"`. LiteLLM shows it in two
ways: a non-streamed reply without `usage` gets LiteLLM's empty `Usage()` (`prompt_tokens` and
`completion_tokens` 0); a stream whose chunks carried none gets usage LiteLLM counted itself with its
tokenizer, recognised as such by `_litellm_streams`. For exact streaming numbers pass
`stream_options={"include_usage": True}` to `litellm.completion`: without it OpenAI-style servers send no usage.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from datetime import datetime
from threading import Lock
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from ..context import current_attribution
from ._common import (
    ESTIMATED,
    ZERO,
    Counts,
    enforcing,
    error_metadata,
    log,
    number,
    openai_counts,
    part,
    record,
    reserve_sync,
    warm_up,
)
from ._estimated import chat_text, estimated_counts
from ._litellm_streams import unreported, watch
from ._providers import billed_searches

PROVIDERS = {
    "vertex_ai": "google",
    "vertex_ai_beta": "google",
    "gemini": "google",
    "text-completion-openai": "openai",
    "azure_ai": "azure",
    "fireworks_ai": "fireworks",
    "ollama_chat": "ollama",
    "codestral": "mistral",
    "together_ai": "together",
    "xai": "x-ai",
    "bedrock": "aws",
}
_REMEMBERED = 4096


def litellm_counts(usage: Any, provider: str = "", model: str | None = None) -> Counts:
    """LiteLLM's `Usage` of a call to `provider`'s `model` (the genai-prices provider id) in docs/events.md terms.

    Web searches: `server_tool_use.web_search_requests` (Anthropic, Claude on Vertex, Groq, ...), else
    `prompt_tokens_details.web_search_requests` (Gemini's grounding queries, Perplexity's searches), as billed
    (`billed_searches`). Image output: `completion_tokens_details.image_tokens` (Gemini image models).
    """
    counts = openai_counts(usage)
    details = part(usage, "prompt_tokens_details")
    read = counts.cache_read_tokens or number(usage, "cache_read_input_tokens")
    write = (counts.cache_write_tokens or number(details, "cache_creation_tokens")
             or number(usage, "cache_creation_input_tokens"))  # fmt: skip
    one_hour = number(part(details, "cache_creation_token_details"), "ephemeral_1h_input_tokens")
    searches = (number(part(usage, "server_tool_use"), "web_search_requests")
                or billed_searches(provider, model, number(details, "web_search_requests")))  # fmt: skip
    images = number(part(usage, "completion_tokens_details"), "image_tokens")
    return counts._replace(cache_read_tokens=read, cache_write_tokens=write, cache_write_1h_tokens=one_hour,
                           web_searches=searches, output_image_tokens=images)  # fmt: skip


def _latency(start: Any, end: Any) -> float | None:
    if isinstance(start, datetime) and isinstance(end, datetime):
        return max(0.0, (end - start).total_seconds() * 1000.0)
    if isinstance(start, int | float) and isinstance(end, int | float):
        return max(0.0, (end - start) * 1000.0)
    return None


def _estimate(kwargs: dict[str, Any], response: Any, provider: str, model: str | None) -> Counts:
    """The request LiteLLM was given (its messages and tools) and the reply's text and tool calls, estimated."""
    tools = (kwargs.get("optional_params") or {}).get("tools")
    return estimated_counts({"messages": kwargs.get("messages"), "tools": tools}, chat_text(response), provider, model)


class UsageLogger(CustomLogger):
    """Records each LiteLLM completion / embedding call on the tracker, attribution from `tracking.attribute`.

    LiteLLM runs some success callbacks on its own threads, outside the caller's context, so the caller's
    `tracking.attribute` is captured in `log_pre_api_call` (the caller's thread) and applied when recording.
    """

    def __init__(self, tracker: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tracker = tracker
        # LiteLLM keeps one logger per key made of the class name and public str/int attributes;
        # this one makes loggers of different trackers distinct.
        self.usage_tracker_id = f"{id(tracker):x}"
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._contexts: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = Lock()
        self._enforce: bool | None = None
        warm_up()

    def _first_time(self, kwargs: dict[str, Any]) -> bool:
        call_id = kwargs.get("litellm_call_id")
        if not call_id:
            return True
        with self._lock:
            if call_id in self._seen:
                return False
            self._seen[call_id] = None
            if len(self._seen) > _REMEMBERED:
                self._seen.popitem(last=False)
        return True

    def log_pre_api_call(self, model: Any, messages: Any, kwargs: Any) -> None:
        """Runs in the caller's thread: keep its attribution for callbacks that LiteLLM runs elsewhere."""
        call_id = kwargs.get("litellm_call_id") if isinstance(kwargs, dict) else None
        attribution = current_attribution()
        if call_id and attribution:
            with self._lock:
                self._contexts[call_id] = dict(attribution)
                if len(self._contexts) > _REMEMBERED:
                    self._contexts.popitem(last=False)

    def _attribution(self, kwargs: dict[str, Any]) -> dict[str, Any] | None:
        call_id = kwargs.get("litellm_call_id")
        if not call_id:
            return None
        with self._lock:
            return self._contexts.pop(call_id, None)

    def _held(self, kwargs: dict[str, Any]) -> str | None:
        """The reservation this logger's tracker took for the call (see `_guard`), carried in its metadata."""
        metadata = (kwargs.get("litellm_params") or {}).get("metadata") or kwargs.get("metadata") or {}
        held = metadata.get(HELD_KEY) if isinstance(metadata, dict) else None
        return held.get(self.usage_tracker_id) if isinstance(held, dict) else None

    @staticmethod
    def _who(kwargs: dict[str, Any]) -> tuple[str, str | None, str | None]:
        provider = kwargs.get("custom_llm_provider") or ""
        if not provider:
            logged = kwargs.get("standard_logging_object") or {}
            provider = logged.get("custom_llm_provider") or "unknown"
        model = kwargs.get("model")
        if isinstance(model, str) and model.startswith(provider + "/"):
            model = model[len(provider) + 1 :]
        operation = "embedding" if kwargs.get("call_type") in ("embedding", "aembedding") else None
        return PROVIDERS.get(provider, provider), model, operation

    def _success(self, kwargs: dict[str, Any], response: Any, start: Any, end: Any) -> None:
        try:
            if not self._first_time(kwargs):
                return
            provider, model, operation = self._who(kwargs)
            usage = getattr(response, "usage", None)
            if usage is None and isinstance(response, dict):
                usage = response.get("usage")
            counts = litellm_counts(usage, provider, model) if usage is not None else ZERO
            source = None
            if operation == "embedding":
                counts = Counts(input_tokens=counts.input_tokens)
            elif not (counts.input_tokens or counts.output_tokens) or (kwargs.get("stream") and unreported(response)):
                counts, source = _estimate(kwargs, response, provider, model), ESTIMATED
            record(self.tracker, provider, model, counts, _latency(start, end), runtime="litellm", operation=operation,
                   attribution=self._attribution(kwargs), reservation=self._held(kwargs),
                   usage_source=source)  # fmt: skip
        except Exception:
            log.warning("could not read a LiteLLM success event", exc_info=True)

    def _failure(self, kwargs: dict[str, Any], start: Any, end: Any) -> None:
        if not self._first_time(kwargs):
            return
        provider, model, operation = self._who(kwargs)
        exc = kwargs.get("exception")
        metadata = error_metadata(exc) if isinstance(exc, BaseException) else {"error": "unknown"}
        record(self.tracker, provider, model, ZERO, _latency(start, end), runtime="litellm", status="error",
               operation=operation, metadata=metadata, attribution=self._attribution(kwargs),
               reservation=self._held(kwargs))  # fmt: skip

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._success(kwargs, response_obj, start_time, end_time)

    async def async_log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._success(kwargs, response_obj, start_time, end_time)

    def log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._failure(kwargs, start_time, end_time)

    async def async_log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._failure(kwargs, start_time, end_time)


def instrument_litellm(tracker: Any, enforce: bool | None = None) -> UsageLogger:
    """Register a UsageLogger in `litellm.callbacks` (once per tracker) and return it.

    With enforcement (`enforce=True`, or the tracker's `quotas.enforce` when not given), `litellm.completion`
    and `litellm.acompletion` first reserve against the hard quotas the call counts against and raise
    tracking.QuotaExceeded instead of calling the provider when one has no room. LiteLLM's own callbacks
    cannot stop a call, so those two functions are wrapped; call them as `litellm.completion(...)`.
    """
    import litellm

    for callback in litellm.callbacks:
        if isinstance(callback, UsageLogger) and callback.tracker is tracker:
            callback._enforce = enforce
            return callback
    logger = UsageLogger(tracker)
    logger._enforce = enforce
    litellm.callbacks.append(logger)
    _guard(litellm)
    watch()
    return logger


HELD_KEY = "usage_reservations"


def _guard(litellm: Any) -> None:
    """Wrap litellm.completion / acompletion once: each enforcing logger's tracker reserves first."""
    for name, is_async in (("completion", False), ("acompletion", True)):
        original = getattr(litellm, name)
        if getattr(original, "_usage_guarded", False):
            continue
        setattr(litellm, name, _guarded(litellm, original, is_async))


def _guarded(litellm: Any, original: Any, is_async: bool) -> Any:
    def reserve(args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
        loggers = [c for c in litellm.callbacks if isinstance(c, UsageLogger) and enforcing(c._enforce, c.tracker)]
        if not loggers:
            return kwargs
        model = kwargs.get("model") or (args[0] if args else None)
        try:
            found = litellm.get_llm_provider(model)[1]
            provider = PROVIDERS.get(found, found)
            bare = str(model).split("/", 1)[-1] if "/" in str(model) else model
        except Exception:
            provider, bare = "unknown", model
        payload = {**kwargs, "messages": kwargs.get("messages") or (args[1] if len(args) > 1 else None)}
        held = {logger.usage_tracker_id: reserve_sync(logger.tracker, provider, bare, payload) for logger in loggers}
        metadata = {**(kwargs.get("metadata") or {}), HELD_KEY: {k: v for k, v in held.items() if v}}
        return {**kwargs, "metadata": metadata}

    if is_async:

        @functools.wraps(original)
        async def acall(*args: Any, **kwargs: Any) -> Any:
            return await original(*args, **reserve(args, kwargs))

        acall._usage_guarded = True  # type: ignore[attr-defined]
        return acall

    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **reserve(args, kwargs))

    call._usage_guarded = True  # type: ignore[attr-defined]
    return call


def uninstrument_litellm(logger: UsageLogger) -> None:
    """Remove the logger from every LiteLLM callback list (LiteLLM copies `callbacks` into several)."""
    import litellm

    for name in ("callbacks", "success_callback", "failure_callback", "_async_success_callback",
                 "_async_failure_callback"):  # fmt: skip
        callbacks = getattr(litellm, name, None)
        if isinstance(callbacks, list):
            callbacks[:] = [c for c in callbacks if c is not logger]


__all__ = ["UsageLogger", "instrument_litellm", "litellm_counts", "uninstrument_litellm"]
