"""The usage event: one priced LLM call, with the accounting conventions of SPEC section 2."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from random import getrandbits
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .fields import ATTRIBUTION, COUNTERS, PARTS

ATTRIBUTION_FIELDS = ATTRIBUTION
MAX_TOKENS = 1_000_000_000
"""Tokens one call can count, at most: far above any context window, and small enough that a call's
cost in pico-USD at any real price fits SQLite's 64-bit integers (a wrong unit must not stop the store)."""
MAX_COST_USD = Decimal(1_000_000)
"""The largest cost one call may carry (an ingested `cost_usd`, or a price override's result)."""

TOKEN_FIELDS = COUNTERS
METADATA_MAX_BYTES = 4096

MIN_TS = 946_684_800.0
"""2000-01-01 UTC: no LLM call happened before; an earlier time is a unit or a clock error."""
MAX_TS = 4_102_444_800.0
"""2100-01-01 UTC, the end of the periods reports can ask for."""
MAX_NAME_LENGTH = {"event_id": 255, "room_id": 255, "thread_id": 255, "agent": 255, "user_id": 255,
                   "session_id": 255, "operation": 64, "provider": 128, "model": 255}  # fmt: skip
"""The longest value of each text field, on every entry point (a Matrix id is at most 255 bytes)."""


def ts_problem(seconds: float) -> str | None:
    """Why a call's time (Unix seconds) cannot be stored, or None."""
    if not MIN_TS <= seconds < MAX_TS:
        return "ts must lie between 2000-01-01 and 2100-01-01 (UTC)"
    return None


def name_problem(name: str, value: object) -> str | None:
    """Why an attribution or model field cannot be stored, or None (None is fine: not given)."""
    if value is None:
        return None
    if not isinstance(value, str):
        return f"{name} must be a string, got {value!r}"
    if len(value) > MAX_NAME_LENGTH[name]:
        return f"{name} is {len(value):,} characters; at most {MAX_NAME_LENGTH[name]} allowed"
    return None


def new_event_id() -> str:
    """A time-ordered unique id (milliseconds, then 80 random bits), so new rows append to the index.

    The bits come from `random`'s generator (seeded from the OS, reseeded in a forked child by the
    standard library): ids need uniqueness, not secrecy, and this is a fifth of `os.urandom`'s cost
    on the writer's hot path.
    """
    return f"{time.time_ns() // 1_000_000:012x}{getrandbits(80):020x}"


def token_problem(counts: Mapping[str, object]) -> str | None:
    """Why these counts (by the names of `COUNTERS`) cannot be stored, or None. Shared by every entry point.

    Counts whose parts do not fit their totals (`token_misfit`) are stored as reported, not refused.
    A missing count is 0.
    """
    values = {name: counts.get(name, 0) for name in COUNTERS}
    for name, value in values.items():
        if type(value) is not int:
            return f"{name} must be an integer, got {value!r}"
        if value < 0:
            return f"{name} must not be negative, got {value}"
        if value > MAX_TOKENS:
            return f"{name} is {value:,}, more than one call can use (at most {MAX_TOKENS:,})"
    return None


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


def metadata_json(value: dict[str, Any] | None) -> str | None:
    """The stored form of metadata (None when empty); ValueError when it is not a small JSON object."""
    if not value:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"metadata must be a JSON object, got {type(value).__name__}")
    try:
        text = json.dumps(value, separators=(",", ":"), default=str, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata must be a JSON object: {exc}") from exc
    if len(text) > METADATA_MAX_BYTES:
        raise ValueError(f"metadata is {len(text)} bytes of JSON; at most {METADATA_MAX_BYTES} allowed")
    return text


class UsageEvent(BaseModel):
    """One LLM call (or embedding, summary, ...) as stored.

    `input_tokens` includes cache reads and writes; `output_tokens` includes reasoning.
    `cost_usd` is None when the model is unpriced (never 0 by default).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(default_factory=new_event_id, min_length=1, max_length=255)
    ts: datetime = Field(default_factory=lambda: datetime.now(UTC))
    provider: str = Field(min_length=1, max_length=128)
    model: str = Field(min_length=1, max_length=255)
    input_tokens: int = Field(default=0, ge=0, strict=True)
    output_tokens: int = Field(default=0, ge=0, strict=True)
    cache_read_tokens: int = Field(default=0, ge=0, strict=True)
    cache_write_tokens: int = Field(default=0, ge=0, strict=True)
    cache_write_1h_tokens: int = Field(default=0, ge=0, strict=True)
    reasoning_tokens: int = Field(default=0, ge=0, strict=True)
    input_audio_tokens: int = Field(default=0, ge=0, strict=True)
    output_audio_tokens: int = Field(default=0, ge=0, strict=True)
    input_image_tokens: int = Field(default=0, ge=0, strict=True)
    output_image_tokens: int = Field(default=0, ge=0, strict=True)
    web_searches: int = Field(default=0, ge=0, strict=True)
    usage_source: Literal["provider", "estimated"] = "provider"
    cost_usd: Decimal | None = Field(default=None, ge=0, le=MAX_COST_USD)
    room_id: str | None = Field(default=None, max_length=255)
    thread_id: str | None = Field(default=None, max_length=255)
    agent: str | None = Field(default=None, max_length=255)
    user_id: str | None = Field(default=None, max_length=255)
    session_id: str | None = Field(default=None, max_length=255)
    operation: str = Field(default="chat", min_length=1, max_length=64)
    latency_ms: float | None = Field(default=None, ge=0)
    status: Literal["ok", "error"] = "ok"
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("ts")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        problem = ts_problem(value.timestamp())
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("metadata")
    @classmethod
    def _small_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        metadata_json(value)
        return value

    @model_validator(mode="after")
    def _parts_within_totals(self) -> UsageEvent:
        problem = token_problem({name: getattr(self, name) for name in COUNTERS})
        if problem:
            raise ValueError(problem)
        return self

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def priced(self) -> bool:
        return self.cost_usd is not None


def describe_validation_error(exc: Exception, *, top: str = "event", unknown: str = "unknown field") -> str:
    """One line naming each bad field (its dotted path; ``top`` when it has none) and why."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return str(exc)
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or top
        message = unknown if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
