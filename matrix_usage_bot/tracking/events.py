"""The usage event: one priced LLM call, with the accounting conventions of docs/events.md.

Its shape is generated from the validation table (`tracking.validation.RULES`, keyed by the field table's
names), and so are its checks: `UsageEvent` refuses exactly what every other entry point refuses, in one pass
(`clean`); pydantic validates nothing again, it describes the fields (the JSON schema of `POST /v1/events`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SkipValidation, create_model, model_validator

from .fields import ATTRIBUTION
from .rules import Rule
from .validation import RULES, InvalidEvent, clean, new_event_id

ATTRIBUTION_FIELDS = ATTRIBUTION
__all__ = ["ATTRIBUTION_FIELDS", "UsageEvent", "describe_validation_error", "new_event_id"]


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
    """The pydantic field of a rule: its type, default and JSON-schema limits; the checks are `clean`'s alone."""
    extra = rule.schema() or None
    annotation = SkipValidation[rule.annotation]  # type: ignore[name-defined]
    if getattr(rule, "required", False):
        return annotation, Field(json_schema_extra=extra)
    if callable(rule.default):
        return annotation, Field(default_factory=rule.default, json_schema_extra=extra)
    return annotation, Field(default=rule.default, json_schema_extra=extra)


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
