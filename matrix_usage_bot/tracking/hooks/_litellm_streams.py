"""Which LiteLLM streams carried no usage: LiteLLM fills those in itself, and says nothing.

When no chunk of a stream reports usage (an OpenAI-style server asked without
`stream_options.include_usage`, a stream cut short), LiteLLM's `ChunkProcessor.calculate_usage` counts
the prompt with its own tokenizer (`count_prompt_tokens`, else `token_counter`) and the reply likewise,
and the assembled response's `Usage` looks like a provider's. It calls `count_prompt_tokens` only when no
chunk reported `prompt_tokens`: wrapping that callable tells the two apart at no cost to a stream that
did report usage. The assembled response keeps the first chunk's `id`, which is noted here with the counts
LiteLLM made up (so a server that reuses ids cannot mark another stream); the callback then estimates the
call as every hook does (`tracking.hooks._estimated`).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from threading import Lock
from typing import Any

from ._common import log

_REMEMBERED = 4096
_unreported: OrderedDict[str, tuple[int, int]] = OrderedDict()
_lock = Lock()


def _counts(usage: Any) -> tuple[int, int]:
    return getattr(usage, "prompt_tokens", None) or 0, getattr(usage, "completion_tokens", None) or 0


def unreported(response: Any) -> bool:
    """Whether LiteLLM made up this streamed response's usage itself (no chunk reported any)."""
    if not _unreported:
        return False
    response_id = getattr(response, "id", None)
    with _lock:
        noted = _unreported.get(response_id) if isinstance(response_id, str) else None
    return noted is not None and noted == _counts(getattr(response, "usage", None))


def _note(chunks: Any, usage: Any) -> None:
    first = chunks[0] if chunks else None
    response_id = first.get("id") if isinstance(first, dict) else getattr(first, "id", None)
    if isinstance(response_id, str):
        with _lock:
            _unreported[response_id] = _counts(usage)
            if len(_unreported) > _REMEMBERED:
                _unreported.popitem(last=False)


def watch() -> None:
    """Wrap `ChunkProcessor.calculate_usage` once; without it (another LiteLLM) streams go on as LiteLLM counts them."""
    try:
        from litellm import token_counter
        from litellm.litellm_core_utils.streaming_chunk_builder_utils import ChunkProcessor
    except ImportError:
        log.warning("LiteLLM's ChunkProcessor not found: streams without usage keep LiteLLM's own count")
        return
    original = ChunkProcessor.calculate_usage
    if getattr(original, "_usage_watched", False):
        return

    @functools.wraps(original)
    def calculate_usage(self: Any, chunks: Any, model: str, completion_output: str, messages: Any = None,
                        reasoning_tokens: int | None = None, count_prompt_tokens: Any = None) -> Any:  # fmt: skip
        counted: list[bool] = []

        def count() -> int:  # LiteLLM's own fallback, unchanged; called only when no chunk had prompt_tokens
            counted.append(True)
            return count_prompt_tokens() if count_prompt_tokens else token_counter(model=model, messages=messages)

        usage = original(self, chunks, model, completion_output, messages, reasoning_tokens, count)
        if counted:
            _note(chunks, usage)
        return usage

    calculate_usage._usage_watched = True  # type: ignore[attr-defined]
    ChunkProcessor.calculate_usage = calculate_usage  # type: ignore[method-assign]
