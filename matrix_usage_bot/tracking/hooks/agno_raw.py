"""What Agno's metrics leave out of a provider's reply, read from the raw reply Agno parsed.

Agno's `MessageMetrics` keep one input count, one output count and the cache totals. The provider billed more:
- Claude (`anthropic.types.Message`, or a stream's closing event whose `message` is the SDK's snapshot):
  `usage.cache_creation.ephemeral_1h_input_tokens` (the 1-hour part of the cache writes),
  `usage.output_tokens_details.thinking_tokens` (reasoning) and `usage.server_tool_use.web_search_requests`.
- Gemini (google-genai's `GenerateContentResponse`): `usage_metadata.prompt_tokens_details`,
  `tool_use_prompt_tokens_details` and `candidates_tokens_details` by modality (AUDIO as audio; IMAGE and
  DOCUMENT as image tokens, as genai-prices' own Gemini extractor counts them), `tool_use_prompt_token_count`
  (input of server-side tool use, which Agno's `input_tokens` leaves out) and the grounding queries
  (`candidates[].grounding_metadata.web_search_queries`), billed as `billed_searches` says.

`extra_counts` returns only these, as counts to add to those of Agno's metrics (which are 0 for each of them).
"""

from __future__ import annotations

from typing import Any

from ._common import ZERO, Counts, anthropic_counts, number, part
from ._providers import billed_searches
from .agno_usage import ANTHROPIC, GEMINI

_IMAGE = ("IMAGE", "DOCUMENT")


def extra_counts(raw: Any, kind: str, model_id: str | None) -> Counts:
    """The counts of a raw reply of a model of family `kind` that Agno's metrics leave out."""
    if kind == ANTHROPIC:
        usage = part(raw, "usage") or part(part(raw, "message"), "usage")
        found = anthropic_counts(usage)
        return Counts(reasoning_tokens=found.reasoning_tokens, cache_write_1h_tokens=found.cache_write_1h_tokens,
                      web_searches=found.web_searches)  # fmt: skip
    if kind == GEMINI:
        return _gemini(raw, model_id)
    return ZERO


def _modalities(details: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for detail in details or ():
        modality = part(detail, "modality")
        name = str(getattr(modality, "value", modality) or "").upper()
        counts[name] = counts.get(name, 0) + number(detail, "token_count")
    return counts


def _gemini(raw: Any, model_id: str | None) -> Counts:
    usage = part(raw, "usage_metadata")
    prompt, tools = _modalities(part(usage, "prompt_tokens_details")), _modalities(
        part(usage, "tool_use_prompt_tokens_details")
    )
    output = _modalities(part(usage, "candidates_tokens_details"))
    queries = sum(len(part(part(candidate, "grounding_metadata"), "web_search_queries") or ())
                  for candidate in part(raw, "candidates") or ())  # fmt: skip
    return Counts(input_tokens=number(usage, "tool_use_prompt_token_count"),
                  input_audio_tokens=prompt.get("AUDIO", 0) + tools.get("AUDIO", 0),
                  output_audio_tokens=output.get("AUDIO", 0),
                  input_image_tokens=sum(prompt.get(kind, 0) + tools.get(kind, 0) for kind in _IMAGE),
                  output_image_tokens=sum(output.get(kind, 0) for kind in _IMAGE),
                  web_searches=billed_searches("google", model_id, queries))  # fmt: skip
