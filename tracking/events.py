"""The usage event: one priced LLM call, with the accounting conventions of SPEC section 2.

Its shape is generated from the validation table (`tracking.validation.RULES`, keyed by the field table's
names), and so are its checks: `UsageEvent` refuses exactly what every other entry point refuses.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from .fields import ATTRIBUTION, COUNTERS, PARTS
from .rules import Rule
from .validation import RULES, InvalidEvent, clean, compile_predicate, new_event_id

ATTRIBUTION_FIELDS = ATTRIBUTION
__all__ = ["ATTRIBUTION_FIELDS", "FITS", "UsageEvent", "first_misfit", "new_event_id", "token_misfit"]


def token_misfit(counts: Mapping[str, int]) -> str | None:
    """How integer counts break the conventions of SPEC section 2 (a part above its whole), or None.

    Such a report is kept as the provider made it, never clamped: the entry point logs it, once.
    """
    values = {name: counts.get(name, 0) for name in COUNTERS}
    for first, second, whole in _PAIRS:
        if values[first] + values[second] > values[whole]:
            return f"{first} + {second} ({values[first] + values[second]}) exceed {whole} ({values[whole]})"
    for part, whole in PARTS:
        if values[part] > values[whole]:
            return f"{part} ({values[part]}) exceed {whole} ({values[whole]})"
    return None


_PAIRS = (("cache_read_tokens", "cache_write_tokens", "input_tokens"),
          ("input_audio_tokens", "input_image_tokens", "input_tokens"),
          ("output_audio_tokens", "output_image_tokens", "output_tokens"))  # fmt: skip
"""Two parts of one whole that together never exceed it."""

_misfits_noted: set[tuple[str, str]] = set()
_misfits_lock = threading.Lock()


def first_misfit(provider: str, model: str) -> bool:
    """True the first time a misfit of (provider, model) is noted, by a hook or the writer: it is logged once."""
    with _misfits_lock:
        if (provider, model) in _misfits_noted or len(_misfits_noted) >= 10_000:
            return False
        _misfits_noted.add((provider, model))
        return True


FITS = compile_predicate("fits", COUNTERS, [*(f"{first} + {second} <= {whole}" for first, second, whole in _PAIRS),
                                              *(f"{part} <= {whole}" for part, whole in PARTS)])  # fmt: skip
"""True when counts given in `COUNTERS` order keep every part within its whole (`token_misfit` says how not)."""


class _Event(BaseModel):
    """One LLM call (or embedding, summary, ...) as stored.

    `input_tokens` includes cache reads and writes; `output_tokens` includes reasoning. `cost_usd` is a
    billed cost when given, else None and the event is priced when it is stored (unpriced stays None,
    never 0). The fields and their checks are those of `tracking.validation.RULES`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _one_validation(cls, data: Any) -> Any:
        return clean(data) if isinstance(data, Mapping) else data

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens  # type: ignore[attr-defined, no-any-return]

    @property
    def priced(self) -> bool:
        return self.cost_usd is not None  # type: ignore[attr-defined]


def _field(rule: Rule) -> Any:
    """The pydantic field of a rule: its type, default and JSON-schema limits (the checks are `clean`'s)."""
    extra = rule.schema() or None
    if getattr(rule, "required", False):
        return rule.annotation, Field(json_schema_extra=extra)
    if callable(rule.default):
        return rule.annotation, Field(default_factory=rule.default, json_schema_extra=extra)
    return rule.annotation, Field(default=rule.default, json_schema_extra=extra)


UsageEvent = create_model(  # type: ignore[call-overload]
    "UsageEvent", __base__=_Event, __module__=__name__, __doc__=_Event.__doc__,
    **{name: _field(rule) for name, rule in RULES.items()},
)  # fmt: skip


def describe_validation_error(exc: Exception, *, top: str = "event", unknown: str = "unknown field") -> str:
    """One line naming each bad field (its dotted path; ``top`` when it has none) and why."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return str(exc)
    parts = []
    for err in exc.errors():
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, InvalidEvent):
            parts.append(str(cause))
            continue
        where = ".".join(str(p) for p in err["loc"]) or top
        message = unknown if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
