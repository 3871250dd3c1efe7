"""The one validation of a usage event, for every entry point: each field's rule and limits, in one table.

`record()` (checked on the writer's thread), the hooks' check of their counts, `usage-bot ingest`, the HTTP
collector, `usage-bot migrate` and `UsageEvent` itself refuse the same values with the same reason, an
`InvalidEvent` that reads "field: reason" ("input_tokens: must not be negative, got -1"). `RULES` is keyed by
the field table's names (`tracking.fields`); the kinds of rule are in `tracking.rules`. The writer's fast path
(`fast_check`) is compiled from the same table, so its common case costs one expression and no rule is
written twice.

Counts whose parts exceed their wholes (`misfit`: the field table's `SPLITS`) are not refused: such a report is
kept as the provider made it, never clamped, and the entry point that meets it logs it once per model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from random import getrandbits
from typing import Any

from .compiled import compile_function, compile_predicate
from .fields import ATTRIBUTION, COUNTERS, EVENT_COLUMNS, SPLITS, USAGE_SOURCES
from .rules import Choice, Count, Dollars, JsonObject, Milliseconds, Refused, Rule, Text, Time
from .storable import storable, unstorable

MAX_TOKENS = 1_000_000_000
"""Tokens one call can count, at most: far above any context window, and small enough that a call's
cost in pico-USD at any real price fits 64-bit integers (a wrong unit must not stop the store)."""
MAX_COST_USD = Decimal(1_000_000)
"""The largest cost one call may carry (an ingested `cost_usd`, or a price override's result)."""
MIN_TS, MAX_TS = 946_684_800.0, 4_102_444_800.0
"""2000-01-01 and 2100-01-01 UTC: no LLM call happened before; reports ask for no period after."""
METADATA_MAX_BYTES = 4096
MATRIX_ID = 255
"""The longest id and attribution (a Matrix id is at most 255 bytes)."""
STATUSES = ("ok", "error")


def new_event_id() -> str:
    """A time-ordered unique id (milliseconds, then 80 random bits), so new rows append to the index.

    The bits come from `random`'s generator (seeded from the OS, reseeded in a forked child by the
    standard library): ids need uniqueness, not secrecy, and this is a fifth of `os.urandom`'s cost
    on the writer's hot path.
    """
    return f"{time.time_ns() // 1_000_000:012x}{getrandbits(80):020x}"


RULES: dict[str, Rule] = {
    "event_id": Text(MATRIX_ID, default=new_event_id, empty=False),
    "ts": Time(MIN_TS, MAX_TS),  # now when left out
    "provider": Text(128, required=True),
    "model": Text(MATRIX_ID, required=True),
    **{name: Count(MAX_TOKENS) for name in COUNTERS},
    "usage_source": Choice(USAGE_SOURCES),
    "cost_usd": Dollars(MAX_COST_USD),  # a billed cost (ingest, the collector); else priced when stored
    **{name: Text(MATRIX_ID) for name in ATTRIBUTION if name != "operation"},
    "operation": Text(64, default="chat"),
    "latency_ms": Milliseconds(),
    "status": Choice(STATUSES),
    "metadata": JsonObject(METADATA_MAX_BYTES),
}
"""Every field of an event with its rule and limits, in the order `clean` checks them."""
SOURCE = Text(64, required=True)
"""The rule of an event's `source`, which the entry point sets (an HTTP key's name, at most 64 characters)."""


class InvalidEvent(ValueError):
    """A field breaks its rule: ``field`` and ``reason``, read together as "field: reason"."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _given(name: str, value: object) -> object:
    """A field's value through its rule (None: its default); InvalidEvent names the field."""
    try:
        return RULES[name].given(value)
    except Refused as exc:
        raise InvalidEvent(name, str(exc)) from None


def _unknown(values: Mapping[str, object]) -> None:
    name = next(name for name in values if name not in _NAMES)
    raise InvalidEvent(storable(name) if isinstance(name, str) else repr(name), "unknown field")


def constant_default(rule: Rule) -> bool:
    """Whether a field left out always takes the same value (not a fresh one, and not a refusal)."""
    return not callable(rule.default) and not getattr(rule, "required", False)


def _compile_clean() -> Callable[[Mapping[str, object]], dict[str, Any]]:
    """`clean` written out field by field from `RULES`: a value its rule would give back as it is (`Rule.kept`)
    or a constant default costs one expression; any other goes through the rule (`_given`), in table order."""
    namespace: dict[str, Any] = {"_NAMES": _NAMES, "_unknown": _unknown, "_given": _given}
    body = ["if not _NAMES.issuperset(values):", "    _unknown(values)", "get = values.get"]
    for i, (name, rule) in enumerate(RULES.items()):
        namespace[f"_default{i}"] = rule.missing() if constant_default(rule) else None
        default = f"_default{i}" if constant_default(rule) else f"_given({name!r}, None)"
        body += [f"_v = get({name!r})",
                 f"{name} = {default} if _v is None else _v if {rule.kept('_v')} else _given({name!r}, _v)"]
    body.append(f"return {{{', '.join(f'{name!r}: {name}' for name in RULES)}}}")
    return compile_function("clean", ("values",), body, namespace, doc=_CLEAN_DOC)  # fmt: skip


_NAMES = frozenset(RULES)
_CLEAN_DOC = """Every field of `RULES` as `UsageEvent` holds it (one left out, or None, takes its default).

InvalidEvent names the first field, in table order, that breaks its rule, or a name that is no field
("unknown field")."""
clean = _compile_clean()


def row_problem(row: tuple) -> str | None:
    """Why a stored row (EVENT_COLUMNS order, from a store that took it before) holds text some backend
    cannot store, in the words every entry point uses; None when every text in it is storable."""
    for name, value in zip(EVENT_COLUMNS, row, strict=True):
        if type(value) is str and (problem := unstorable(value)):
            return str(InvalidEvent(name, problem))
    return None


def counts_problem(counts: Mapping[str, object]) -> str | None:
    """Why these counts (by the names of `COUNTERS`; one left out is 0) would be refused, or None."""
    for name in COUNTERS:
        try:
            RULES[name].given(counts.get(name))
        except Refused as exc:
            return str(InvalidEvent(name, str(exc)))
    return None


def fast_check(fields: Iterable[str]) -> Callable[..., bool]:
    """A predicate over values in ``fields`` order, True when each field of `RULES` among them is valid and in
    its stored form (other fields are ignored): the writer's fast path, compiled from `RULES`."""
    fields = tuple(fields)
    return compile_predicate("valid", fields, (RULES[name].fast(name) for name in fields if name in RULES))


FITS = compile_predicate("fits", COUNTERS, (f"{' + '.join(parts)} <= {whole}" for parts, whole in SPLITS))
"""True when counts given in `COUNTERS` order (a `Counts`) keep every part within its whole (`misfit` says how not)."""


def misfit(counts: Mapping[str, int]) -> str | None:
    """How valid counts (by name; one left out is 0) break the conventions of docs/events.md (parts above their
    whole), or None."""
    for parts, whole in SPLITS:
        total = sum(counts.get(name, 0) for name in parts)
        if total > counts.get(whole, 0):
            return f"{' + '.join(parts)} ({total}) exceed {whole} ({counts.get(whole, 0)})"
    return None


_misfits_noted: set[tuple[str, str]] = set()
_misfits_lock = threading.Lock()


def first_misfit(provider: str, model: str) -> bool:
    """True the first time a misfit of (provider, model) is noted, by a hook or the writer: it is logged once."""
    with _misfits_lock:
        if (provider, model) in _misfits_noted or len(_misfits_noted) >= 10_000:
            return False
        _misfits_noted.add((provider, model))
        return True
