"""LangChain callback handler: `model.invoke(..., config={"callbacks": [UsageCallbackHandler(tracker)]})`.

It reads `usage_metadata` of each chat model result (`on_llm_end`), streaming included (LangChain hands the
aggregated chunk to `on_llm_end`). LangChain's convention matches SPEC section 2: `input_tokens` is the sum
of every input token type (`input_token_details.cache_read` / `cache_creation` are parts of it) and
`output_tokens` includes `output_token_details.reasoning`. Provider and model come from LangChain's
`ls_provider` / `ls_model_name` metadata and the response's `model_name`.

The handler runs inline (in the caller's thread or task), so `tracking.attribute` applies; it works for
sync and async runs alike. For streamed OpenAI calls, ChatOpenAI must report usage (`stream_usage=True`).
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult

from ._common import ZERO, Counts, error_metadata, log, record, warm_up

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
    """From a LangChain UsageMetadata dict."""
    inp = usage.get("input_tokens") or 0
    out = usage.get("output_tokens") or 0
    in_details = usage.get("input_token_details") or {}
    out_details = usage.get("output_token_details") or {}
    return (inp, out, in_details.get("cache_read") or 0, in_details.get("cache_creation") or 0,
            out_details.get("reasoning") or 0)  # fmt: skip


class UsageCallbackHandler(BaseCallbackHandler):
    """Records every chat model call seen through LangChain callbacks on `tracker`."""

    run_inline = True
    raise_error = False

    def __init__(self, tracker: Any, *, agent: str | None = None) -> None:
        self.tracker = tracker
        self.agent = agent
        self._runs: dict[UUID, tuple[str, str | None, float]] = {}
        warm_up()

    def _start(self, serialized: dict[str, Any] | None, run_id: UUID, metadata: dict[str, Any] | None,
               kwargs: dict[str, Any]) -> None:  # fmt: skip
        metadata = metadata or {}
        provider = metadata.get("ls_provider") or ((serialized or {}).get("id") or ["unknown"])[-1]
        model = metadata.get("ls_model_name") or (kwargs.get("invocation_params") or {}).get("model")
        self._runs[run_id] = (PROVIDERS.get(provider, provider), model, time.perf_counter())

    def on_chat_model_start(self, serialized: dict[str, Any], messages: list[list[Any]], *, run_id: UUID,
                            metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:  # fmt: skip
        self._start(serialized, run_id, metadata, kwargs)

    def on_llm_start(self, serialized: dict[str, Any], prompts: list[str], *, run_id: UUID,
                     metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:  # fmt: skip
        self._start(serialized, run_id, metadata, kwargs)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        provider, model, t0 = self._runs.pop(run_id, ("unknown", None, None))
        latency = (time.perf_counter() - t0) * 1000.0 if t0 is not None else None
        try:
            counts, model, found = self._read(response, model)
        except Exception:
            log.warning("unexpected LangChain result; usage not recorded", exc_info=True)
            return
        record(self.tracker, provider, model, counts, latency, agent=self.agent,
               metadata=None if found else {"usage": "missing"})  # fmt: skip

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        provider, model, t0 = self._runs.pop(run_id, ("unknown", None, None))
        latency = (time.perf_counter() - t0) * 1000.0 if t0 is not None else None
        record(self.tracker, provider, model, ZERO, latency, status="error", agent=self.agent,
               metadata=error_metadata(error))  # fmt: skip

    @staticmethod
    def _read(response: LLMResult, model: str | None) -> tuple[Counts, str | None, bool]:
        """Sum one usage per prompt: with n > 1 every choice repeats the same usage."""
        totals = [0, 0, 0, 0, 0]
        found = False
        for choices in response.generations:
            for generation in choices:
                message = getattr(generation, "message", None)
                usage = getattr(message, "usage_metadata", None)
                if usage:
                    for i, value in enumerate(usage_counts(usage)):
                        totals[i] += value
                    found = True
                    model = (getattr(message, "response_metadata", None) or {}).get("model_name") or model
                    break
        if not found:
            token_usage = (response.llm_output or {}).get("token_usage") or {}
            if token_usage:
                totals[0] = token_usage.get("prompt_tokens") or 0
                totals[1] = token_usage.get("completion_tokens") or 0
                found = True
            model = (response.llm_output or {}).get("model_name") or model
        return (totals[0], totals[1], totals[2], totals[3], totals[4]), model, found
