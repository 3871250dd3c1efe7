"""Which provider an OpenAI-compatible endpoint is, by its host (the genai-prices provider id), and how a provider
counts the web searches it bills."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_HOSTS = {
    "api.openai.com": "openai",
    "api.anthropic.com": "anthropic",
    "api.cerebras.ai": "cerebras",
    "api.together.xyz": "together",
    "api.together.ai": "together",
    "openrouter.ai": "openrouter",
    "api.groq.com": "groq",
    "api.deepseek.com": "deepseek",
    "api.mistral.ai": "mistral",
    "api.x.ai": "x-ai",
    "api.fireworks.ai": "fireworks",
    "api.perplexity.ai": "perplexity",
    "generativelanguage.googleapis.com": "google",
    "api.novita.ai": "novita",
}


def provider_from_base_url(base_url: object) -> str:
    """The genai-prices provider id for an OpenAI-compatible endpoint; the host name when it is unknown."""
    parts = urlsplit(str(base_url))
    host = (parts.hostname or "").lower()
    if host in _HOSTS:
        return _HOSTS[host]
    if host.endswith(".openai.azure.com") or host.endswith(".services.ai.azure.com"):
        return "azure"
    if "ollama" in host or parts.port == 11434:
        return "ollama"
    return host or "unknown"


_GEMINI_GENERATION = re.compile(r"gemini-(\d+)")


def billed_searches(provider: str, model: str | None, queries: int) -> int:
    """The web searches a call is billed for, from the search queries the provider ran.

    Google bills grounding with Google Search per grounded prompt on Gemini 2 and earlier (one, however many
    queries the model ran: genai-prices' $35 a thousand) and per search query from Gemini 3 on ($14 a
    thousand); every other provider bills each search.
    """
    if queries and provider == "google":
        generation = _GEMINI_GENERATION.search((model or "").lower())
        if generation is not None and int(generation.group(1)) < 3:
            return 1
    return queries
