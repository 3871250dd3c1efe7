"""How Agno's usage means what it means: the provider and family of a model, and its metrics in docs/events.md terms.

Shared by the Agno hook (`tracking.hooks.agno`) and MindRoom's passive collector, which receives these same
metrics in its messages. Importing it loads no Agno module.
"""

from __future__ import annotations

from typing import Any

from ._common import ZERO, Counts, number
from ._providers import provider_from_base_url as _host_provider

_PROVIDERS = {
    "openai": "openai", "openai chat": "openai", "anthropic": "anthropic", "google": "google", "gemini": "google",
    "vertexai": "google", "awsbedrock": "aws", "aws": "aws", "bedrock": "aws", "azure": "azure",
    "azureopenai": "azure", "azureaifoundry": "azure", "xai": "x-ai", "mistral": "mistral", "groq": "groq",
    "cerebras": "cerebras", "together": "together", "deepseek": "deepseek", "openrouter": "openrouter",
    "ollama": "ollama", "fireworks": "fireworks",
}  # fmt: skip


def model_provider(model: Any) -> str:
    """The genai-prices provider id of an Agno model: its base_url host if set, else its provider name."""
    override = getattr(type(model), "_usage_provider", None)
    if override:
        return override
    base_url = getattr(model, "base_url", None)
    if base_url:
        return _host_provider(base_url)
    name = str(getattr(model, "provider", "") or "").lower()
    return _PROVIDERS.get(name, name.replace(" ", "") or "unknown")


ANTHROPIC, GEMINI, OPENAI = "anthropic", "gemini", "openai"


def family(provider: str, model_id: str) -> str:
    """How a model's Agno metrics count, from Agno's provider name (`Model.provider`) and the model id.

    Anthropic-family: MindRoom's rule (`model_usage._provider_reports_cache_tokens_outside_input`):
    providers named anthropic or bedrock, and Claude on Vertex. Gemini: Agno's Google models
    (`Gemini`, `GeminiInteractions`, provider "Google", Vertex included); MindRoom also names them
    gemini.
    """
    key, model_key = provider.lower().replace("-", "_"), model_id.lower()
    claude_on_vertex = key == "vertexai_claude" or ("vertex" in key and "claude" in model_key)
    if "anthropic" in key or "bedrock" in key or claude_on_vertex:
        return ANTHROPIC
    if key in ("google", "gemini"):
        return GEMINI
    return OPENAI


def model_family(model: Any) -> str:
    """`family` of an Agno model object; a subclass of Agno's Claude or Gemini counts as its base."""
    modules = [c.__module__ for c in type(model).__mro__]
    if any(m.startswith("agno.models.anthropic") for m in modules):
        return ANTHROPIC
    if any(m.startswith("agno.models.google") for m in modules):
        return GEMINI
    return family(str(getattr(model, "provider", "") or ""), str(getattr(model, "id", "") or ""))


def metrics_counts(metrics: Any, kind: str) -> Counts:
    """Agno metrics (a `Metrics` object or its `to_dict()`) of a model of family `kind`, in docs/events.md terms."""
    if metrics is None:
        return ZERO
    inp, out = number(metrics, "input_tokens"), number(metrics, "output_tokens")
    read, write = number(metrics, "cache_read_tokens"), number(metrics, "cache_write_tokens")
    reasoning = number(metrics, "reasoning_tokens")
    if kind == ANTHROPIC:
        inp += read + write
    elif kind == GEMINI:
        out += reasoning
    # audio_*_tokens are parts of input and output, as the provider's own details (OpenAI, Gemini) say
    return Counts(input_tokens=inp, output_tokens=out, cache_read_tokens=read, cache_write_tokens=write,
                  reasoning_tokens=reasoning, input_audio_tokens=number(metrics, "audio_input_tokens"),
                  output_audio_tokens=number(metrics, "audio_output_tokens"))  # fmt: skip
