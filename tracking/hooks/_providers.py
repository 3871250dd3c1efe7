"""Which provider an OpenAI-compatible endpoint is, by its host: the genai-prices provider id."""

from __future__ import annotations

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
