"""Turning recorded calls and validated events into priced store rows (EVENT_COLUMNS order).

Both pass the one validation (`tracking.validation`): a recorded call in the common form through its
compiled fast path, anything else through `clean`, which refuses what it must (`InvalidEvent`, naming the
field and the reason every entry point gives) and gives the values to store.
"""

from __future__ import annotations

import logging
from collections import namedtuple
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from operator import attrgetter, itemgetter
from typing import Any

from .events import FITS, UsageEvent, first_misfit, new_event_id, token_misfit
from .fields import COUNTERS, FINER, TRACKER
from .pricing import Pricer, usd_to_pico
from .store import MS_PER_HOUR
from .validation import MAX_COST_USD, RULES, InvalidEvent, clean, fast_check

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


_valid = fast_check(Recorded._fields)
_counts = attrgetter(*COUNTERS)
_finer = itemgetter(*(COUNTERS.index(name) for name in FINER))
_INPUT, _OUTPUT, _CACHE_READ, _CACHE_WRITE, _REASONING = (
    COUNTERS.index(name)
    for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"))
_EPOCH, _MS = datetime(1970, 1, 1, tzinfo=UTC), timedelta(milliseconds=1)
_METADATA = RULES["metadata"]


def recorded_to_row(r: Recorded, pricer: Pricer, now: float, source: str = TRACKER) -> tuple:
    """Validate and price what `record()` queued (``now``: its time when it has none; ``source``: the
    writer's, `Tracker(source=...)`).

    The writer calls this for every event: the common case (every value valid and in its stored form, no
    metadata) passes one compiled expression; anything else goes through `clean`, which raises InvalidEvent
    or gives the values to store.
    """
    if r.ts is None:
        r = r._replace(ts=now)
    if not _valid(*r):
        fields = r._asdict()
        del fields["reservation"]
        return values_to_row(clean(fields), pricer, source)
    return _row(pricer, None, r.event_id or new_event_id(), int(r.ts * 1000), r.room_id, r.thread_id, r.agent,
                r.user_id, r.session_id, r.operation or "chat", r.provider, r.model, _counts(r), r.latency_ms, r.status,
                None, r.usage_source, source)  # fmt: skip


def event_to_row(event: UsageEvent, pricer: Pricer, *, source: str) -> tuple:
    """A validated event's row; a billed `cost_usd` wins over pricing. ``source`` is the caller's: the entry
    point, or the name of the HTTP key that posted the event."""
    return values_to_row(event.__dict__, pricer, source)


def values_to_row(values: Mapping[str, Any], pricer: Pricer, source: str) -> tuple:
    """The row of values as `clean` gives them (as `UsageEvent` holds them)."""
    return _row(pricer, values["cost_usd"], values["event_id"], (values["ts"] - _EPOCH) // _MS, values["room_id"],
                values["thread_id"], values["agent"], values["user_id"], values["session_id"], values["operation"],
                values["provider"], values["model"], tuple(values[name] for name in COUNTERS), values["latency_ms"],
                values["status"], _METADATA.text(values["metadata"]), values["usage_source"], source)  # fmt: skip


def _row(pricer: Pricer, billed: Decimal | None, event_id: str, ts_ms: int, room_id: str | None, thread_id: str | None,
         agent: str | None, user_id: str | None, session_id: str | None, operation: str, provider: str, model: str,
         counts: tuple[int, ...], latency: float | None, status: str, metadata: str | None,
         usage_source: str, source: str) -> tuple:  # fmt: skip
    """A stored row in `EVENT_COLUMNS` order, priced (``counts`` in `COUNTERS` order; ``billed``: a billed cost
    that wins over the price, split as the price splits)."""
    if not FITS(*counts):
        _note_misfit(provider, model, dict(zip(COUNTERS, counts, strict=True)))
    finer = _finer(counts)
    try:
        parts = pricer.price_parts_ms(provider, model, ts_ms, counts[_INPUT], counts[_OUTPUT], counts[_CACHE_READ],
                                      counts[_CACHE_WRITE], finer if any(finer) else None,
                                      counts[_REASONING])  # fmt: skip
    except Exception:
        log.exception("pricing %s/%s failed; the call is stored as unpriced", provider, model)
        parts = None
    if billed is not None:
        cost = usd_to_pico(billed)
        output = 0 if parts is None or not parts[0] + parts[1] else min(cost, parts[1] * cost // (parts[0] + parts[1]))
        parts = (cost - output, output)
    in_cost, out_cost = (None, None) if parts is None else parts
    cost = None if parts is None else in_cost + out_cost
    if cost is not None and cost > MAX_COST_PICO:
        raise InvalidEvent("cost_usd", f"{provider}/{model} prices this call at ${cost / 10**12:,.2f}, more than one"
                                       f" call may cost (${MAX_COST_USD:,}); check the price override")  # fmt: skip
    return (event_id, ts_ms, ts_ms // MS_PER_HOUR, room_id or "", thread_id or "", agent or "", user_id or "",
            session_id or None, operation, provider, model, *counts, cost, latency, status, metadata, usage_source,
            in_cost, out_cost, source)  # fmt: skip


MAX_COST_PICO = int(MAX_COST_USD) * 10**12


def _note_misfit(provider: str, model: str, counts: dict[str, int]) -> None:
    """A report whose parts exceed their totals is stored as the provider made it; say so once per model."""
    problem = token_misfit(counts)
    if problem is None or not first_misfit(provider, model):
        return
    log.warning("%s/%s reported usage whose parts do not fit its totals (%s); stored as reported",
                provider, model, problem)  # fmt: skip
