"""Turning recorded calls into priced store rows (EVENT_COLUMNS order)."""

from __future__ import annotations

import logging
from collections import namedtuple
from datetime import UTC, datetime
from typing import Any

from .events import (
    MAX_COST_USD,
    MAX_TOKENS,
    MAX_TS,
    MIN_TS,
    UsageEvent,
    first_misfit,
    metadata_json,
    name_problem,
    new_event_id,
    token_misfit,
    token_problem,
    ts_problem,
)
from .fields import ATTRIBUTION, COUNTERS, FINER, TRACKER, USAGE_SOURCES
from .pricing import Pricer, usd_to_pico
from .store import MS_PER_HOUR

log = logging.getLogger(__name__)


_RECORDED = ("ts", "event_id", "provider", "model", "input_tokens", "output_tokens", "cache_read_tokens",
             "cache_write_tokens", "reasoning_tokens", "operation", "latency_ms", "status", "metadata", "room_id",
             "thread_id", "agent", "user_id", "session_id", *FINER, "usage_source", "reservation")  # fmt: skip


class Recorded(namedtuple("Recorded", _RECORDED, defaults=(*(0 for _ in FINER), "provider", None))):
    """What `Tracker.record()` queues: unvalidated, unpriced, as cheap to build as a tuple.

    Its fields are `record()`'s keywords in this order; the finer counts are the field table's `FINER`
    (0 unless given); `reservation` is the quota reservation the call held, ended when the event is stored.
    """

    __slots__ = ()


class InvalidRecord(ValueError):
    pass


def recorded_to_row(r: Recorded, pricer: Pricer, now: float, source: str = TRACKER) -> tuple:
    """Validate (the same rules as UsageEvent, without pydantic's cost on the hot path) and price;
    `source` is the writer's (`Tracker(source=...)`).

    The writer calls this for every event, so the common case (integer counts that satisfy the
    conventions, string provider and model, no metadata) is checked in one expression; anything
    else goes through the checks that name the problem.
    """
    (ts, event_id, provider, model, inp, out, cache_read, cache_write, reasoning, operation, latency,
     status, metadata, room_id, thread_id, agent, user_id, session_id, cache_1h, in_audio, out_audio, in_image,
     out_image, searches, usage_source, _reservation) = r  # fmt: skip
    finer = (in_audio, out_audio, in_image, out_image, searches)
    if finer != _NONE and not all(type(v) is int and 0 <= v <= MAX_TOKENS for v in finer):
        _raise_problem(r)
    if not (
        type(inp) is int and type(out) is int and type(cache_read) is int and type(cache_write) is int
        and type(reasoning) is int and type(cache_1h) is int
        and 0 <= inp <= MAX_TOKENS and 0 <= out <= MAX_TOKENS and 0 <= cache_read <= MAX_TOKENS
        and 0 <= cache_write <= MAX_TOKENS and 0 <= cache_1h <= MAX_TOKENS and 0 <= reasoning <= MAX_TOKENS
        and type(provider) is str and provider and type(model) is str and model
        and (status == "ok" or status == "error") and (usage_source == "provider" or usage_source == "estimated")
        and (latency is None or ((type(latency) is float or type(latency) is int) and latency >= 0))
    ):  # fmt: skip
        _raise_problem(r)
    if (cache_read + cache_write > inp or cache_1h > cache_write or reasoning > out or in_audio + in_image > inp
            or out_audio + out_image > out):
        _note_misfit(provider, model, {name: getattr(r, name) for name in COUNTERS})
    metadata_text = _metadata(metadata) if metadata else None
    if ts is None:
        ts = now
    if type(ts) is float and MIN_TS <= ts < MAX_TS:
        ts_ms = int(ts * 1000)
    else:
        ts_ms = _ts_ms(ts)
    if not (
        (event_id is None or (type(event_id) is str and len(event_id) <= 255))
        and (room_id is None or (type(room_id) is str and len(room_id) <= 255))
        and (thread_id is None or (type(thread_id) is str and len(thread_id) <= 255))
        and (agent is None or (type(agent) is str and len(agent) <= 255))
        and (user_id is None or (type(user_id) is str and len(user_id) <= 255))
        and (session_id is None or (type(session_id) is str and len(session_id) <= 255))
        and (operation is None or (type(operation) is str and len(operation) <= 64))
        and len(provider) <= 128 and len(model) <= 255
    ):  # fmt: skip
        _check_attribution(r)
    try:
        parts = pricer.price_parts_ms(provider, model, ts_ms, inp, out, cache_read, cache_write,
                                      None if finer == _NONE and not cache_1h else (cache_1h, *finer),
                                      reasoning)  # fmt: skip
    except Exception:
        log.exception("pricing %s/%s failed; the call is stored as unpriced", provider, model)
        parts = None
    _check_cost(provider, model, parts)
    return _row(event_id or new_event_id(), ts_ms, room_id, thread_id, agent, user_id, session_id, operation or "chat",
                provider, model, (inp, out, cache_read, cache_write, cache_1h, reasoning, *finer), parts, latency,
                status, metadata_text, usage_source, source)  # fmt: skip


_NONE = (0, 0, 0, 0, 0)


def _row(event_id: str, ts_ms: int, room_id: str | None, thread_id: str | None, agent: str | None,
         user_id: str | None, session_id: str | None, operation: str, provider: str, model: str,
         counts: tuple[int, ...], parts: tuple[int, int] | None, latency: float | None, status: str,
         metadata: str | None, usage_source: str, source: str) -> tuple:  # fmt: skip
    """A stored row in `EVENT_COLUMNS` order; ``counts`` in `COUNTERS` order; ``parts`` (input, output) cost."""
    in_cost, out_cost = (None, None) if parts is None else parts
    cost = None if parts is None else in_cost + out_cost
    return (event_id, ts_ms, ts_ms // MS_PER_HOUR, room_id or "", thread_id or "", agent or "", user_id or "",
            session_id, operation, provider, model, *counts, cost, latency, status, metadata, usage_source, in_cost,
            out_cost, source)  # fmt: skip


def _note_misfit(provider: str, model: str, counts: dict[str, int]) -> None:
    """A report whose parts exceed their totals is stored as the provider made it; say so once per model."""
    problem = token_misfit(counts)
    if problem is None or not first_misfit(provider, model):
        return
    log.warning("%s/%s reported usage whose parts do not fit its totals (%s); stored as reported",
                provider, model, problem)  # fmt: skip


def _raise_problem(r: Recorded) -> None:
    """Raise InvalidRecord naming what is wrong with a record that failed the fast check."""
    problem = token_problem({name: getattr(r, name) for name in COUNTERS})
    if problem:
        raise InvalidRecord(problem)
    for name in ("provider", "model"):
        value = getattr(r, name)
        if not isinstance(value, str) or not value:
            raise InvalidRecord(f"{name} must be a non-empty string, got {value!r}")
    if r.status not in ("ok", "error"):
        raise InvalidRecord(f"status must be 'ok' or 'error', got {r.status!r}")
    if r.usage_source not in USAGE_SOURCES:
        raise InvalidRecord(f"usage_source must be 'provider' or 'estimated', got {r.usage_source!r}")
    if r.latency_ms is not None and (not isinstance(r.latency_ms, int | float) or r.latency_ms < 0):
        raise InvalidRecord(f"latency_ms must be a non-negative number, got {r.latency_ms!r}")


MAX_COST_PICO = int(MAX_COST_USD) * 10**12
def _check_cost(provider: str, model: str, parts: tuple[int, int] | None) -> None:
    cost = None if parts is None else parts[0] + parts[1]
    if cost is not None and cost > MAX_COST_PICO:
        raise InvalidRecord(f"{provider}/{model} prices this call at ${cost / 10**12:,.2f}, more than one call may"
                            f" cost (${MAX_COST_USD:,}); check the price override")  # fmt: skip


def _ts_ms(ts: object) -> int:
    """Milliseconds since 1970 of a datetime (naive means UTC, as in UsageEvent) or a Unix time in seconds."""
    if isinstance(ts, datetime):
        seconds = (ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)).timestamp()
    elif isinstance(ts, int | float) and not isinstance(ts, bool):
        seconds = float(ts)
    else:
        raise InvalidRecord(f"ts must be a datetime or a Unix time in seconds, got {ts!r}")
    problem = ts_problem(seconds)
    if problem:
        raise InvalidRecord(f"{problem}, got {ts!r}")
    return int(seconds * 1000)


_TEXT_FIELDS = ("event_id", *ATTRIBUTION, "provider", "model")


def _check_attribution(r: Recorded) -> None:
    """Raise InvalidRecord for a text field that is not a string or is too long (the rules of UsageEvent)."""
    for name in _TEXT_FIELDS:
        problem = name_problem(name, getattr(r, name))
        if problem:
            raise InvalidRecord(problem)


def _metadata(value: Any) -> str | None:
    try:
        return metadata_json(value)
    except ValueError as exc:
        raise InvalidRecord(str(exc)) from exc


def event_to_row(event: UsageEvent, pricer: Pricer, *, source: str) -> tuple:
    """A validated event; an explicit cost_usd (for example a provider-billed cost) wins over pricing.
    `source` is the caller's: the entry point, or the name of the HTTP key that posted the event."""
    ts_ms = int(event.ts.timestamp() * 1000)
    counts = tuple(getattr(event, c) for c in COUNTERS)
    parts = _price(pricer, event, ts_ms)
    if event.cost_usd is not None:  # a billed total wins; its split follows the price where one is known
        cost = usd_to_pico(event.cost_usd)
        output = 0 if parts is None or not parts[0] + parts[1] else min(cost, parts[1] * cost // (parts[0] + parts[1]))
        parts = (cost - output, output)
    _check_cost(event.provider, event.model, parts)
    _note_misfit(event.provider, event.model, dict(zip(COUNTERS, counts, strict=True)))
    return _row(event.event_id, ts_ms, event.room_id, event.thread_id, event.agent, event.user_id, event.session_id,
                event.operation, event.provider, event.model, counts, parts, event.latency_ms, event.status,
                metadata_json(event.metadata), event.usage_source, source)  # fmt: skip


def _price(pricer: Pricer, event: UsageEvent, ts_ms: int) -> tuple[int, int] | None:
    finer = tuple(getattr(event, c) for c in FINER)
    try:
        return pricer.price_parts_ms(event.provider, event.model, ts_ms, event.input_tokens, event.output_tokens,
                                     event.cache_read_tokens, event.cache_write_tokens,
                                     finer if any(finer) else None, event.reasoning_tokens)  # fmt: skip
    except Exception:
        log.exception("pricing %s/%s failed; the call is stored as unpriced", event.provider, event.model)
        return None


