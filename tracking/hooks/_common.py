"""What every hook shares: recording that never raises, token sanity, provider names, quota checks."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ..fields import ATTRIBUTION

log = logging.getLogger("tracking.hooks")

# (input, output, cache_read, cache_write, reasoning), in the conventions of SPEC section 2.
Counts = tuple[int, int, int, int, int]
ZERO: Counts = (0, 0, 0, 0, 0)
_ATTRIBUTION = frozenset(ATTRIBUTION)

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


def warm_up() -> None:
    """Import the pricing data here, before the SDK is used.

    The tracker's writer thread imports genai-prices (and with it httpx2) on the first event it prices.
    The OpenAI SDK looks httpx2 up in sys.modules on every request, so a half-imported httpx2 from that
    thread breaks a concurrent call with AttributeError. Importing it once in the caller's thread, under
    the import lock, closes that window.
    """
    try:
        import genai_prices.data_snapshot  # noqa: F401
    except Exception:
        log.debug("genai-prices could not be imported ahead of time", exc_info=True)


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


def fit(counts: Counts) -> Counts:
    """Clamp parts into their totals so a provider's odd report is stored (the writer rejects broken events)."""
    inp, out, read, write, reasoning = (c if type(c) is int and c > 0 else 0 for c in counts)
    if read + write > inp or reasoning > out:
        log.debug("usage parts exceed totals, clamped: %r", counts)
        read = min(read, inp)
        write = min(write, inp - read)
        reasoning = min(reasoning, out)
    return inp, out, read, write, reasoning


def record(
    tracker: Any,
    provider: str,
    model: str | None,
    counts: Counts,
    latency_ms: float | None,
    *,
    status: str = "ok",
    operation: str | None = None,
    agent: str | None = None,
    metadata: dict[str, Any] | None = None,
    attribution: Mapping[str, Any] | None = None,
) -> None:
    """Queue one call on the tracker; a failure is logged, never raised into the caller's LLM call.

    `attribution` is a captured `tracking.current_attribution()`, for callbacks that run outside the
    caller's context; the context in force at record time fills what it leaves out.
    """
    try:
        inp, out, read, write, reasoning = fit(counts)
        extra = {k: v for k, v in attribution.items() if k in _ATTRIBUTION} if attribution else {}
        if operation:
            extra["operation"] = operation
        if agent:
            extra["agent"] = agent
        tracker.record(
            provider=provider, model=model or "unknown", input_tokens=inp, output_tokens=out,
            cache_read_tokens=read, cache_write_tokens=write, reasoning_tokens=reasoning,
            latency_ms=latency_ms, status=status, metadata=metadata, **extra,
        )  # fmt: skip
    except Exception:
        log.warning("could not record usage of a %s/%s call", provider, model, exc_info=True)


def error_metadata(exc: BaseException, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"error": type(exc).__name__}
    status_code = getattr(exc, "status_code", None)
    if isinstance(status_code, int):
        meta["status_code"] = status_code
    if extra:
        meta.update(extra)
    return meta


def enforce_sync(tracker: Any) -> None:
    """With enforce=True: raise tracking.QuotaExceeded before the call when a hard quota is used up.

    The single place where hooks check quotas. A failing check (store down) lets the call through.
    """
    check = getattr(tracker, "enforce_quota_sync", None)
    if check is None:
        return
    from ..quotas import QuotaExceeded

    try:
        check()
    except QuotaExceeded:
        raise
    except Exception:
        log.warning("quota check failed; the call goes ahead", exc_info=True)


async def enforce_async(tracker: Any) -> None:
    check = getattr(tracker, "enforce_quota", None)
    if check is None:
        return
    from ..quotas import QuotaExceeded

    try:
        await check()
    except QuotaExceeded:
        raise
    except Exception:
        log.warning("quota check failed; the call goes ahead", exc_info=True)
