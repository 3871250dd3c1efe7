"""LangChain callback handler: `model.invoke(..., config={"callbacks": [UsageCallbackHandler(tracker)]})`.

It reads `usage_metadata` of each chat model result (`on_llm_end`), streaming included (LangChain hands the
aggregated chunk to `on_llm_end`). Provider and model come from LangChain's `ls_provider` / `ls_model_name`
metadata and the response's `model_name`.

Usage conversion (docs/conversions.md): LangChain's convention is docs/events.md's. `input_tokens` is the
sum of every input token type, cache reads and writes included (langchain-anthropic and langchain-aws add
Anthropic's and Bedrock's cache counts back themselves); `output_tokens` includes
`output_token_details.reasoning` (langchain-google-genai adds Gemini's thoughts itself). Cache writes are
`input_token_details.cache_creation`, except that langchain-anthropic and langchain-aws, when the provider
gives the TTL breakdown, report them as `ephemeral_5m_input_tokens` + `ephemeral_1h_input_tokens` and set
`cache_creation` to 0 (so the writes are the larger of the two); the 1-hour part is
`ephemeral_1h_input_tokens`. Audio tokens are the standard `input_token_details.audio` and
`output_token_details.audio`; web searches are not in `usage_metadata` (see `web_searches`).

A result with no usage (no `usage_metadata` on any generation's message, no `llm_output["token_usage"]`:
a server that sends none, a ChatOpenAI stream without `stream_usage=True`) is estimated (`tracking.estimate`)
from the request LangChain handed `on_chat_model_start` (its messages in the OpenAI role/content form) or
`on_llm_start` (its prompts) and the generations' text, and stored with `usage_source = "estimated"`.

The handler runs inline (in the caller's thread or task), so `tracking.attribute` applies; it works for
sync and async runs alike. For exact streamed OpenAI numbers, ChatOpenAI must report usage (`stream_usage=True`).
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult

from ..fields import ZERO, Counts
from ._common import (
    ESTIMATED,
    enforcing,
    error_metadata,
    log,
    number,
    openai_counts,
    record,
    reserve_sync,
    warm_up,
)
from ._estimated import calls_text, estimated_counts
from ._providers import billed_searches

PROVIDERS = {
    "google_genai": "google",
    "google_vertexai": "google",
    "google_anthropic_vertex": "google",
    "mistralai": "mistral",
    "amazon_bedrock": "aws",
    "bedrock": "aws",
    "bedrock_converse": "aws",
    "azure_openai": "azure",
    "xai": "x-ai",
    "together": "together",
    "fireworks": "fireworks",
}


def usage_counts(usage: Any) -> Counts:
    """From a LangChain UsageMetadata dict (its standard `audio` details included)."""
    details, out = usage.get("input_token_details") or {}, usage.get("output_token_details") or {}
    one_hour = number(details, "ephemeral_1h_input_tokens")
    # Either the total or its TTL split carries the writes (the other is 0, or the same total again).
    write = max(number(details, "cache_creation"), number(details, "ephemeral_5m_input_tokens") + one_hour)
    return Counts(input_tokens=number(usage, "input_tokens"), output_tokens=number(usage, "output_tokens"),
                  cache_read_tokens=number(details, "cache_read"), cache_write_tokens=write,
                  reasoning_tokens=number(out, "reasoning"), cache_write_1h_tokens=one_hour,
                  input_audio_tokens=number(details, "audio"), output_audio_tokens=number(out, "audio"))  # fmt: skip


def web_searches(response: LLMResult, message: Any, provider: str, model: str | None) -> int:
    """The searches a result says the provider ran, where the integration keeps them: langchain-anthropic's
    `llm_output["usage"]` (the Message's usage, not kept for a stream), langchain-google-genai's
    `response_metadata["grounding_metadata"]["web_search_queries"]` (billed as `billed_searches` says)."""
    usage = (response.llm_output or {}).get("usage") or {}
    searches = number(usage.get("server_tool_use"), "web_search_requests") if isinstance(usage, dict) else 0
    grounding = (getattr(message, "response_metadata", None) or {}).get("grounding_metadata") or {}
    queries = (grounding.get("web_search_queries") or ()) if isinstance(grounding, dict) else ()
    return searches or billed_searches(provider, model, len(queries))


class UsageCallbackHandler(BaseCallbackHandler):
    """Records every chat model call seen through LangChain callbacks on `tracker`."""

    run_inline = True

    def __init__(self, tracker: Any, *, agent: str | None = None, enforce: bool | None = None) -> None:
        self.tracker = tracker
        self.agent = agent
        self.enforce = enforce
        self._runs: dict[UUID, tuple[str, str | None, float, str | None, list[Any]]] = {}
        warm_up()

    @property
    def raise_error(self) -> bool:  # type: ignore[override]
        """LangChain lets a handler's exception out only when this is set: so a refusal stops the call."""
        return enforcing(self.enforce, self.tracker)

    def _start(self, serialized: dict[str, Any] | None, run_id: UUID, metadata: dict[str, Any] | None,
               kwargs: dict[str, Any], request: list[Any]) -> None:  # fmt: skip
        metadata = metadata or {}
        provider = metadata.get("ls_provider") or ((serialized or {}).get("id") or ["unknown"])[-1]
        provider = PROVIDERS.get(provider, provider)
        params = kwargs.get("invocation_params") or {}
        model = metadata.get("ls_model_name") or params.get("model")
        held = None
        if self.raise_error:  # raises tracking.QuotaExceeded before the model is called
            held = reserve_sync(self.tracker, provider, model, {**params, "messages": request})
        self._runs[run_id] = (provider, model, time.perf_counter(), held, request)

    def on_chat_model_start(self, serialized: dict[str, Any], messages: list[list[Any]], *, run_id: UUID,
                            metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:  # fmt: skip
        self._start(serialized, run_id, metadata, kwargs, messages)

    def on_llm_start(self, serialized: dict[str, Any], prompts: list[str], *, run_id: UUID,
                     metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:  # fmt: skip
        self._start(serialized, run_id, metadata, kwargs, prompts)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        provider, model, t0, held, request = self._runs.pop(run_id, ("unknown", None, None, None, None))
        latency = (time.perf_counter() - t0) * 1000.0 if t0 is not None else None
        try:
            counts, model, found = self._read(response, provider, model)
            if not found:
                counts = estimated_counts(_request_payload(request or []), _generations_text(response), provider, model)
        except Exception:
            log.warning("unexpected LangChain result; usage not recorded", exc_info=True)
            return
        record(self.tracker, provider, model, counts, latency, runtime="langchain", agent=self.agent,
               reservation=held, usage_source=None if found else ESTIMATED)  # fmt: skip

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        provider, model, t0, held, _ = self._runs.pop(run_id, ("unknown", None, None, None, None))
        latency = (time.perf_counter() - t0) * 1000.0 if t0 is not None else None
        record(self.tracker, provider, model, ZERO, latency, runtime="langchain", status="error", agent=self.agent,
               metadata=error_metadata(error), reservation=held)  # fmt: skip

    @staticmethod
    def _read(response: LLMResult, provider: str, model: str | None) -> tuple[Counts, str | None, bool]:
        """Sum one usage per prompt: with n > 1 every choice repeats the same usage."""
        totals, found = ZERO, False
        for choices in response.generations:
            for generation in choices:
                message = getattr(generation, "message", None)
                usage = getattr(message, "usage_metadata", None)
                if usage:
                    model = (getattr(message, "response_metadata", None) or {}).get("model_name") or model
                    counts = usage_counts(usage)._replace(web_searches=web_searches(response, message, provider, model))
                    totals, found = totals.plus(counts), True
                    break
        if not found:
            token_usage = (response.llm_output or {}).get("token_usage") or {}
            if token_usage:  # an older chat model's OpenAI-shaped `llm_output`
                totals, found = openai_counts(token_usage), True
            model = (response.llm_output or {}).get("model_name") or model
        return totals, model, found


def _request_payload(request: list[Any]) -> dict[str, Any]:
    """What the chat model was asked, as a provider is sent it: `on_chat_model_start`'s message lists in the
    OpenAI role/content form, or `on_llm_start`'s prompts."""
    if request and all(isinstance(prompt, str) for prompt in request):
        return {"prompt": request[0] if len(request) == 1 else request}
    from langchain_core.messages import convert_to_openai_messages

    return {"messages": [message for prompt in request for message in convert_to_openai_messages(prompt)]}


def _generations_text(response: LLMResult) -> str:
    """Every generation's text and tool calls (each choice is output the provider bills)."""
    generations = [generation for choices in response.generations for generation in choices]
    messages = [getattr(generation, "message", None) for generation in generations]
    return "".join((generation.text or "") + calls_text(getattr(message, "tool_calls", None))
                   for generation, message in zip(generations, messages, strict=True))  # fmt: skip
