"""What every hook shares: recording that never raises, reading usage fields, unfit reports, provider names, quotas."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ..estimate import request_parts
from ..fields import ATTRIBUTION, COUNTERS, ZERO, Counts
from ..image_tokens import image_tokens
from ..validation import FITS, counts_problem, fast_check, first_misfit, misfit

log = logging.getLogger("matrix_usage_bot.tracking.hooks")

_ATTRIBUTION = frozenset(ATTRIBUTION)
ESTIMATED = "estimated"
"""The `usage_source` of counts a hook estimated (`tracking.estimate`) because the provider reported none."""
__all__ = ["ESTIMATED", "ZERO", "Counts"]


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


def part(source: Any, name: str) -> Any:
    """A field of an SDK object or of a dict (runtimes hand over both), None when missing.

    On the path of every call: plain dicts and SDK objects are told apart without `isinstance(..., Mapping)`,
    whose ABC check cost more than the rest of the usage extraction; other mappings still work."""
    if source is None:
        return None
    if type(source) is dict:
        return source.get(name)
    value = getattr(source, name, None)
    if value is None and isinstance(source, Mapping):
        return source.get(name)
    return value


def number(source: Any, name: str) -> int:
    """An integer field of an SDK object or a dict; 0 when missing or not an integer."""
    value = part(source, name)
    return value if type(value) is int else 0


def openai_counts(usage: Any) -> Counts:
    """OpenAI Chat Completions usage, a shape many runtimes copy (LiteLLM, Groq, OpenRouter, vLLM, ...).

    `prompt_tokens` already include `prompt_tokens_details.cached_tokens` (and `cache_write_tokens` where a
    server reports them); `completion_tokens` already include `completion_tokens_details.reasoning_tokens`.
    Audio and image tokens are parts of them: `prompt_tokens_details.audio_tokens` / `image_tokens`,
    `completion_tokens_details.audio_tokens` (the SDK has no output image count: asking a pydantic object
    for a field it lacks costs microseconds on every call).
    """
    prompt, completion = part(usage, "prompt_tokens_details"), part(usage, "completion_tokens_details")
    return Counts(input_tokens=number(usage, "prompt_tokens"), output_tokens=number(usage, "completion_tokens"),
                  cache_read_tokens=number(prompt, "cached_tokens"),
                  cache_write_tokens=number(prompt, "cache_write_tokens"),
                  reasoning_tokens=number(completion, "reasoning_tokens"),
                  input_audio_tokens=number(prompt, "audio_tokens"),
                  output_audio_tokens=number(completion, "audio_tokens"),
                  input_image_tokens=number(prompt, "image_tokens"))  # fmt: skip


def anthropic_counts(usage: Any) -> Counts:
    """Anthropic Messages usage (the SDK's `Usage`, a stream's snapshot, or the same fields in a dict).

    `input_tokens` EXCLUDES the cache: input is it plus `cache_read_input_tokens` and
    `cache_creation_input_tokens`; `cache_creation.ephemeral_1h_input_tokens` is the 1-hour part of the writes,
    `output_tokens_details.thinking_tokens` the reasoning part of output, `server_tool_use.web_search_requests`
    the searches billed. Read here without the SDK, for runtimes that hand Anthropic's reply over (Agno).
    """
    read, write = number(usage, "cache_read_input_tokens"), number(usage, "cache_creation_input_tokens")
    return Counts(input_tokens=number(usage, "input_tokens") + read + write,
                  output_tokens=number(usage, "output_tokens"), cache_read_tokens=read, cache_write_tokens=write,
                  reasoning_tokens=number(part(usage, "output_tokens_details"), "thinking_tokens"),
                  cache_write_1h_tokens=number(part(usage, "cache_creation"), "ephemeral_1h_input_tokens"),
                  web_searches=number(part(usage, "server_tool_use"), "web_search_requests"))  # fmt: skip


_VALID = fast_check(COUNTERS)


def unfit(counts: Counts) -> str | None:
    """Why these counts would be refused (the reason every entry point gives) or break docs/events.md (a part
    larger than its whole, as `misfit` words it), or None. The common case is one compiled check."""
    if _VALID(*counts) and FITS(*counts):
        return None
    named = counts._asdict()
    return counts_problem(named) or misfit(named)


def checked(counts: Counts, runtime: str, provider: str, model: str | None) -> Counts:
    """The counts unchanged; a report that is `unfit` is logged once per (runtime, provider, model).

    Clamping would hide a runtime whose convention is not the one its hook converts (it once turned 1,200
    thinking tokens into 300), so an unfit report goes on as the provider said it and is stored so. The
    note is shared with the writer's, so a model's misfit is logged once, here where the runtime is known.
    """
    problem = unfit(counts)
    if problem is None:
        return counts
    if first_misfit(provider, model or "unknown"):
        log.warning("%s usage of %s/%s is off (%s): %r; passed on as reported, not clamped "
                    "(logged once per provider and model)", runtime, provider, model, problem,
                    counts.given())  # fmt: skip
    return counts


def event_fields(counts: Counts, usage_source: str | None = None) -> dict[str, Any]:
    """The counts as the event's fields (`record()`'s and `UsageEvent`'s names): those not 0, and `usage_source`
    when given (`ESTIMATED`)."""
    fields = counts.given()
    if usage_source:
        fields["usage_source"] = usage_source
    return fields


def call_fields(
    provider: str,
    model: str | None,
    counts: Counts,
    latency_ms: float | None,
    *,
    runtime: str,
    status: str = "ok",
    operation: str | None = None,
    agent: str | None = None,
    metadata: dict[str, Any] | None = None,
    attribution: Mapping[str, Any] | None = None,
    reservation: str | None = None,
    usage_source: str | None = None,
) -> dict[str, Any]:
    """`Tracker.record()`'s keywords for one call whose counts the runtime's hook already converted to docs/events.md
    (`runtime` names it for the log of an unfit report; `usage_source` is `ESTIMATED` for counts it
    estimated).

    `attribution` is a captured `tracking.current_attribution()`, for callbacks that run outside the
    caller's context; the context in force when the call is recorded fills what it leaves out.
    """
    fields = {k: v for k, v in attribution.items() if k in _ATTRIBUTION} if attribution else {}
    if operation:
        fields["operation"] = operation
    if agent:
        fields["agent"] = agent
    fields.update(event_fields(checked(counts, runtime, provider, model), usage_source), provider=provider,
                  model=model or "unknown", latency_ms=latency_ms, status=status, metadata=metadata,
                  reservation=reservation)  # fmt: skip
    return fields


def record(tracker: Any, provider: str, model: str | None, counts: Counts, latency_ms: float | None,
           **options: Any) -> None:  # fmt: skip
    """Queue one call on the tracker (`options`: those of `call_fields`); a failure is logged, never raised
    into the caller's LLM call."""
    try:
        tracker.record(**call_fields(provider, model, counts, latency_ms, **options))
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


def enforcing(flag: bool | None, tracker: Any) -> bool:
    """A hook's own enforce flag when given, else the tracker's `quotas.enforce` (from its config)."""
    if flag is not None:
        return flag
    return bool(getattr(getattr(tracker, "quota_settings", None), "enforce", False))


_OUTPUT_LIMITS = ("max_tokens", "max_completion_tokens", "max_output_tokens")


def request_tokens(payload: Mapping[str, Any], provider: str, model: str | None) -> int:
    """The input tokens a request may use, estimated from its text at four characters a token (rounded up) and
    its images by the provider's rule (`tracking.image_tokens`): enough for a reservation, which the call's
    reported usage replaces once it is stored."""
    text, images = request_parts(payload)
    return -(-len(text) // 4) + sum(image_tokens(image, provider, model) for image in images)


def output_limit(payload: Mapping[str, Any]) -> int | None:
    for key in _OUTPUT_LIMITS:
        value = payload.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def reserve_sync(tracker: Any, provider: str, model: str | None, payload: Mapping[str, Any]) -> str | None:
    """Before a call under enforcement: hold its estimated use, or raise tracking.QuotaExceeded.

    The single place where hooks check quotas. A failing check (store down) lets the call through.
    """
    reserve = getattr(tracker, "reserve_sync", None)
    with _failed_checks_let_through():
        if reserve is not None:
            return reserve(**_reservation(provider, model, payload))
    return None


async def reserve_async(tracker: Any, provider: str, model: str | None, payload: Mapping[str, Any]) -> str | None:
    reserve = getattr(tracker, "reserve", None)
    with _failed_checks_let_through():
        if reserve is not None:
            return await reserve(**_reservation(provider, model, payload))
    return None


def _reservation(provider: str, model: str | None, payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"provider": provider, "model": model or "unknown",
            "input_tokens": request_tokens(payload, provider, model), "max_output_tokens": output_limit(payload)}


@contextmanager
def _failed_checks_let_through() -> Iterator[None]:
    """A refusal goes to the caller; a check that could not be made (store down) is logged and let through."""
    from ..quotas import QuotaExceeded

    try:
        yield
    except QuotaExceeded:
        raise
    except Exception:
        log.warning("quota check failed; the call goes ahead", exc_info=True)


def release(tracker: Any, reservation: str | None) -> None:
    """End the reservation of a call that will not be recorded; it would expire anyway."""
    if reservation is None:
        return
    try:
        tracker.release_sync(reservation)
    except Exception:
        log.debug("could not end reservation %s; it expires on its own", reservation, exc_info=True)
