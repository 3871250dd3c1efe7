"""Naming a model to re-price on (`model` or `provider/model`), and cheaper alternatives of common models.

Every default alternative is cheaper per token than the model it replaces, input and output, at every
time of day (tests/tracking/test_advice_alternatives.py checks them in genai-prices' data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..price_model import lookup
from ..pricing import PROVIDER_ALIASES, Pricer

DEFAULT_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    # OpenAI
    "gpt-4-turbo": ("gpt-4o", "gpt-4o-mini"),
    "gpt-4o": ("gpt-4o-mini", "gpt-4.1-mini"),
    "gpt-4o-mini": ("gpt-4.1-nano",),
    "gpt-4.1": ("gpt-4.1-mini", "gpt-4.1-nano"),
    "gpt-4.1-mini": ("gpt-4.1-nano",),
    "gpt-5": ("gpt-5-mini", "gpt-5-nano"),
    "gpt-5-mini": ("gpt-5-nano",),
    "o1": ("o3", "o4-mini"),
    "o3": ("o4-mini",),
    # Anthropic
    "claude-opus-4-0": ("claude-sonnet-4-0",),
    "claude-opus-4-1": ("claude-opus-4-5", "claude-sonnet-4-5"),
    "claude-opus-4-5": ("claude-sonnet-4-6", "claude-haiku-4-5"),  # not Sonnet 4.5: dearer above 200k input
    "claude-opus-4-6": ("claude-sonnet-4-6", "claude-haiku-4-5"),
    "claude-sonnet-4-0": ("claude-haiku-4-5",),
    "claude-sonnet-4-5": ("claude-haiku-4-5",),
    "claude-sonnet-4-6": ("claude-haiku-4-5",),
    "claude-3-7-sonnet-latest": ("claude-3-5-haiku-latest",),
    "claude-haiku-4-5": ("claude-3-5-haiku-latest",),
    # Google
    "gemini-1.5-pro": ("gemini-1.5-flash",),
    "gemini-2.0-flash": ("gemini-2.0-flash-lite",),
    "gemini-2.5-pro": ("gemini-2.5-flash", "gemini-2.5-flash-lite"),
    "gemini-2.5-flash": ("gemini-2.5-flash-lite",),
    "gemini-3-pro-preview": ("gemini-3-flash-preview",),
    # DeepSeek (the same off-peak hours: at peak the chat model costs half)
    "deepseek-reasoner": ("deepseek-chat",),
    # Mistral
    "mistral-large": ("mistral-medium-latest", "mistral-small-latest"),
    "mistral-medium-latest": ("mistral-small-latest",),
    "magistral-medium": ("magistral-small-latest",),
}
"""Model (its genai-prices id, which dated names resolve to) to cheaper models, by names genai-prices knows."""


@dataclass(frozen=True)
class Target:
    """A model to price on; `known` says whether anything (an override, genai-prices) prices it."""

    provider: str
    model: str
    known: bool

    @property
    def name(self) -> str:
        return f"{self.provider}/{self.model}" if self.provider else self.model


def _provider_of(model: str) -> str | None:
    from genai_prices import data_snapshot

    try:
        provider, _ = data_snapshot.get_snapshot().find_provider_model(model, None, None, None)
    except LookupError:
        return None
    return str(provider.id)


def resolve_model(text: str, pricer: Pricer) -> Target:
    """`provider/model` when its provider prices it (genai-prices, an alias, an override), else the whole
    text as a model name (some contain a slash), whose provider genai-prices finds."""
    text = text.strip()
    head, _, rest = text.partition("/")
    if rest and pricer.knows(head.lower(), rest):
        return Target(head.lower(), rest, True)
    provider = _provider_of(text)
    if provider is not None:
        return Target(provider, text, pricer.knows(provider, text))
    if rest and head:
        return Target(head.lower(), rest, False)
    return Target("", text, False)


def model_id(provider: str, model: str) -> str | None:
    """genai-prices' id of a model as events name it (dated names resolve to their family: claude-opus-4 ...)."""
    found = lookup(PROVIDER_ALIASES.get(provider.lower(), provider.lower()), model)
    return None if found is None else str(getattr(found[1], "id", "")) or None


class Alternatives:
    """Cheaper models for a model, from the defaults and `advice.alternatives` (which wins; [] removes one)."""

    def __init__(self, configured: Mapping[str, Sequence[str]] | None = None) -> None:
        self.map: dict[str, tuple[str, ...]] = {**DEFAULT_ALTERNATIVES,
                                                **{k: tuple(v) for k, v in (configured or {}).items()}}  # fmt: skip

    def of(self, provider: str, model: str) -> tuple[str, ...]:
        """Configured under `provider/model`, the model's name, or its genai-prices id, in that order."""
        for key in (f"{provider}/{model}", model, model_id(provider, model)):
            if key is not None and key in self.map:
                return self.map[key]
        return ()
