"""What `record()` queues (`Recorded`), and turning it, or values `clean` gave, into a priced store row
(EVENT_COLUMNS order), or into the event an HTTP tracker sends as recorded (`recorded_event`).

Every path passes the one validation (`tracking.validation`): a recorded call in the common form through its
compiled fast path, anything else through `clean`, which refuses what it must (`InvalidEvent`, naming the
field and the reason every entry point gives) and gives the values to store. Rows are built by name: the
functions that read an event into a row are generated from `EVENT_COLUMNS`, so no column, counter or field is
placed by its position.
"""

from __future__ import annotations

import logging
from collections import namedtuple
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from .compiled import compile_function
from .fields import ATTRIBUTION, COUNTERS, EVENT_COLUMNS, TRACKER, Counts
from .pricing import Pricer, usd_to_pico
from .store import MS_PER_HOUR
from .validation import (
    FITS,
    MAX_COST_USD,
    RULES,
    InvalidEvent,
    clean,
    constant_default,
    fast_check,
    first_misfit,
    misfit,
    new_event_id,
)

log = logging.getLogger(__name__)

_DEFAULTS: dict[str, Any] = {**dict.fromkeys(ATTRIBUTION), "latency_ms": None, "status": "ok", "metadata": None,
                             **dict.fromkeys(COUNTERS, 0), "usage_source": "provider", "reservation": None}  # fmt: skip
_FIELDS = ("ts", "event_id", "provider", "model", *_DEFAULTS)


class Recorded(namedtuple("Recorded", _FIELDS, defaults=_DEFAULTS.values())):
    """What `Tracker.record()` queues: unvalidated, unpriced, as cheap to build as a tuple.

    Its fields are `record()`'s keywords, the counters those of the field table (0 unless given);
    `reservation` is the quota reservation the call held, ended when the event is stored.
    """

    __slots__ = ()


_valid = fast_check(Recorded._fields)
_EPOCH, _MS = datetime(1970, 1, 1, tzinfo=UTC), timedelta(milliseconds=1)
_METADATA = RULES["metadata"]
MAX_COST_PICO = int(MAX_COST_USD) * 10**12

_GIVEN = ("event_id", "ts_ms", "operation", "metadata", "cost", "input_cost", "output_cost", "source")
"""What a row takes besides the event's own fields: its values as stored, its cost parts and its source."""
_STORED_AS = {"event_id": "event_id", "ts_ms": "ts_ms", "hour": f"ts_ms // {MS_PER_HOUR}",
              **{name: "{} or ''" for name in ("room_id", "thread_id", "agent", "user_id")},
              "session_id": "{} or None", "operation": "operation", "metadata": "metadata", "cost_pusd": "cost",
              "input_cost_pusd": "input_cost", "output_cost_pusd": "output_cost", "source": "source"}  # fmt: skip
"""Each column whose stored value is not the event's field of its name: how it is computed ("{}" reads the
field). A column added to `EVENT_COLUMNS` is the event's field of its name, or says here what it holds."""


def _reader(read: str) -> tuple[Callable[..., tuple], Callable[[Any], Counts]]:
    """The row and the `Counts` of an event `e` whose field `name` is read by ``read.format(name)``."""
    def field(name: str) -> str:
        return _STORED_AS.get(name, "{}").format(read.format(name))

    row = compile_function("row", ("e", *_GIVEN), [f"return ({', '.join(map(field, EVENT_COLUMNS))},)"])
    counters = ", ".join(read.format(name) for name in COUNTERS)
    counts = compile_function("counts", ("e",), [f"return _new(Counts, ({counters},))"],
                              {"_new": tuple.__new__, "Counts": Counts})  # fmt: skip
    return row, counts


_recorded_row, _recorded_counts = _reader("e.{}")
_values_row, _values_counts = _reader("e[{!r}]")


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
        return values_to_row(clean(_fields(r)), pricer, source)
    ts_ms = _ms(r.ts)
    counts = _recorded_counts(r)
    cost, input_cost, output_cost = _price(pricer, r.provider, r.model, ts_ms, counts, None)
    return _recorded_row(r, r.event_id or new_event_id(), ts_ms, r.operation or "chat", None, cost, input_cost,
                         output_cost, source)  # fmt: skip


def values_to_row(values: Mapping[str, Any], pricer: Pricer, source: str) -> tuple:
    """The row of values as `clean` gives them (as `UsageEvent` holds them); a billed `cost_usd` wins over
    pricing. ``source`` is the caller's: the entry point, or the name of the HTTP key that posted the event."""
    ts_ms = (values["ts"] - _EPOCH) // _MS
    counts = _values_counts(values)
    cost, input_cost, output_cost = _price(pricer, values["provider"], values["model"], ts_ms, counts,
                                           values["cost_usd"])  # fmt: skip
    return _values_row(values, values["event_id"], ts_ms, values["operation"], _METADATA.text(values["metadata"]),
                       cost, input_cost, output_cost, source)  # fmt: skip


def _price(pricer: Pricer, provider: str, model: str, ts_ms: int, counts: Counts,
           billed: Decimal | None) -> tuple[int | None, int | None, int | None]:  # fmt: skip
    """(cost, input part, output part) in pico-USD, None when unpriced; ``billed``: a billed cost that wins over
    the price, split as the price splits. A cost no call may have is refused (InvalidEvent)."""
    if not FITS(*counts):
        _note_misfit(provider, model, counts)
    try:
        parts = pricer.price_parts_ms(provider, model, ts_ms, counts)
    except Exception:
        log.exception("pricing %s/%s failed; the call is stored as unpriced", provider, model)
        parts = None
    if billed is not None:
        cost = usd_to_pico(billed)
        output = 0 if parts is None or not parts[0] + parts[1] else min(cost, parts[1] * cost // (parts[0] + parts[1]))
        parts = (cost - output, output)
    if parts is None:
        return None, None, None
    cost = parts[0] + parts[1]
    if cost > MAX_COST_PICO:
        raise InvalidEvent("cost_usd", f"{provider}/{model} prices this call at ${cost / 10**12:,.2f}, more than one"
                                       f" call may cost (${MAX_COST_USD:,}); check the price override")  # fmt: skip
    return cost, parts[0], parts[1]


_SENT = frozenset(RULES) - {"ts", "cost_usd"}
_LEFT_OUT = {name: (None, "", {}, rule.missing() if constant_default(rule) else None)
             for name, rule in RULES.items() if name in _SENT}  # fmt: skip
"""The values of each sent field that mean "not given" (none, empty, its default): the collector's default
takes their place."""


def _sender(read: str, order: tuple[str, ...]) -> Callable[..., dict[str, Any]]:
    """The sent fields of an event `e` whose field `name` is read by ``read.format(name)`` (its id given apart),
    in ``order``, but those left at a value meaning "not given"."""
    body = ["event = {}"]
    for name in (name for name in order if name in _SENT):
        body += [f"value = {'event_id' if name == 'event_id' else read.format(name)}",
                 f"if value not in _LEFT_OUT[{name!r}]:", f"    event[{name!r}] = value"]  # fmt: skip
    return compile_function("sent", ("e", "event_id"), [*body, "return event"], {"_LEFT_OUT": _LEFT_OUT})


_recorded_sent, _values_sent = _sender("e.{}", Recorded._fields), _sender("e[{!r}]", tuple(RULES))


def recorded_event(r: Recorded, now: float) -> dict[str, Any]:
    """What `record()` queued as the JSON event an HTTP tracker sends: validated as the writer validates (it
    raises the same InvalidEvent), not priced (the collector prices it with its own overrides), every field
    as recorded but those left at their defaults, the time to the millisecond stored, the reservation it ends."""
    if r.ts is None:
        r = r._replace(ts=now)
    if _valid(*r):
        ts_ms, counts = _ms(r.ts), _recorded_counts(r)
        event = _recorded_sent(r, r.event_id or new_event_id())
    else:
        values = clean(_fields(r))
        ts_ms, counts = (values["ts"] - _EPOCH) // _MS, _values_counts(values)
        event = _values_sent(values, values["event_id"])
    if not FITS(*counts):
        _note_misfit(r.provider, r.model, counts)
    event["ts"] = (_EPOCH + timedelta(milliseconds=ts_ms)).isoformat()
    if r.reservation:
        event["reservation"] = r.reservation
    return event


def _ms(seconds: float) -> int:
    """The millisecond of Unix seconds, as `clean` reads them."""
    return int(seconds * 1000)


def _fields(r: Recorded) -> dict[str, Any]:
    fields = r._asdict()
    del fields["reservation"]
    return fields


def _note_misfit(provider: str, model: str, counts: Counts) -> None:
    """A report whose parts exceed their totals is stored as the provider made it; say so once per model."""
    problem = misfit(counts._asdict())
    if problem is None or not first_misfit(provider, model):
        return
    log.warning("%s/%s reported usage whose parts do not fit its totals (%s); stored as reported",
                provider, model, problem)  # fmt: skip
