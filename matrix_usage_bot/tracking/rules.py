"""The kinds of value an event's field can hold, each a rule: what it takes, how it says no, and its fast form.

A rule's `clean` returns a value as `UsageEvent` holds it or raises `Refused` with the reason; `fast` is a
Python expression over the field's name, True when the value is already valid and in the form the writer
stores (anything else goes to `clean`); `schema` describes it in JSON schema. `tracking.validation` holds
the table that gives each field its rule and limits.

Text is taken only as every backend stores it (`tracking.storable`). Numbers are finite: NaN and infinities are refused.
`None` is a value left out (its default).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from .storable import JSON_NUL, shown, storable, unstorable


class Refused(ValueError):
    """A rule's reason, before the validation names the field."""


class Rule:
    annotation: Any = object
    default: object = None

    def given(self, value: object) -> object:
        return self.missing() if value is None else self.clean(value)

    def missing(self) -> object:
        """The value of a field left out (or None)."""
        return self.default() if callable(self.default) else self.default

    def clean(self, value: object) -> object:
        return value

    def fast(self, name: str) -> str:
        return "False"

    def kept(self, name: str) -> str:
        """True (over ``name``, not None) only when `clean` gives that value back as it is: the compiled
        `validation.clean` then takes it without a call."""
        return self.fast(name)

    def schema(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class Count(Rule):
    limit: int
    annotation = int
    default = 0

    def clean(self, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Refused(f"must be an integer, got {shown(value)}")
        if value < 0:
            raise Refused(f"must not be negative, got {shown(value)}")
        if value > self.limit:
            size = f"{value:,}" if value.bit_length() <= 200 else shown(value)
            raise Refused(f"is {size}, more than one call can use (at most {self.limit:,})")
        return int(value)

    def fast(self, name: str) -> str:
        return f"(type({name}) is int and 0 <= {name} <= {self.limit})"

    def schema(self) -> dict[str, Any]:
        return {"minimum": 0, "maximum": self.limit}


@dataclass(frozen=True)
class Text(Rule):
    limit: int
    default: object = None
    required: bool = False
    """A non-empty string must be given (provider, model)."""
    empty: bool = True
    """An empty string is taken as not given; else it is refused (event_id)."""

    @property
    def annotation(self) -> Any:  # type: ignore[override]
        return str if self.required else str | None

    def missing(self) -> object:
        if self.required:
            raise Refused("is required (a non-empty string)")
        return super().missing()

    def clean(self, value: object) -> object:
        if not isinstance(value, str):
            raise Refused(f"must be a string, got {shown(value)}")
        if not value:
            if self.required or not self.empty:
                raise Refused("must not be empty")
            return self.missing()
        if len(value) > self.limit:
            raise Refused(f"is {len(value):,} characters; at most {self.limit} allowed")
        problem = unstorable(value)
        if problem:
            raise Refused(problem)
        return str(value)

    def fast(self, name: str) -> str:
        shortest = "0 < " if self.required or not self.empty else ""
        valid = f"type({name}) is str and {shortest}len({name}) <= {self.limit} and {name}.isascii()" \
                f" and '\\x00' not in {name}"  # fmt: skip
        return f"({valid})" if self.required else f"({name} is None or ({valid}))"

    def kept(self, name: str) -> str:
        return f"({self.fast(name)} and {name} != '')"  # clean takes an empty string as not given, or refuses it

    def schema(self) -> dict[str, Any]:
        return {"maxLength": self.limit, **({"minLength": 1} if self.required else {})}


@dataclass(frozen=True)
class Choice(Rule):
    choices: tuple[str, ...]

    @property
    def annotation(self) -> Any:  # type: ignore[override]
        return Literal[self.choices]

    @property
    def default(self) -> str:  # type: ignore[override]
        return self.choices[0]

    def clean(self, value: object) -> str:
        if isinstance(value, str) and value in self.choices:
            return self.choices[self.choices.index(value)]
        raise Refused(f"must be {' or '.join(map(repr, self.choices))}, got {shown(value)}")

    def fast(self, name: str) -> str:
        return f"(type({name}) is str and {name} in {self.choices!r})"


def _number(value: object, kind: type[float] | type[Decimal]) -> Any:
    """A number (never a boolean) as a float or a Decimal (which also reads text); NaN when it is none, and
    infinity for an integer too large for a float."""
    if isinstance(value, bool):
        return kind("nan")
    try:
        if kind is Decimal and isinstance(value, int | str | Decimal):
            return Decimal(value)
        return kind(repr(value)) if isinstance(value, float) else kind(value) if isinstance(value, int) else kind("nan")
    except OverflowError:
        return kind("inf")
    except (InvalidOperation, ValueError):
        return kind("nan")


@dataclass(frozen=True)
class Milliseconds(Rule):
    annotation = float | None

    def clean(self, value: object) -> float:
        number = _number(value, float)
        if not 0.0 <= number < math.inf:
            raise Refused(f"must be a finite number of milliseconds, at least 0, got {shown(value)}")
        return number

    def fast(self, name: str) -> str:
        return f"({name} is None or (type({name}) is float and 0.0 <= {name} < _INF))"

    def schema(self) -> dict[str, Any]:
        return {"minimum": 0}


@dataclass(frozen=True)
class Dollars(Rule):
    limit: Decimal
    annotation = Decimal | None

    def clean(self, value: object) -> Decimal:
        amount = _number(value, Decimal)
        if not amount.is_finite() or not 0 <= amount <= self.limit:
            raise Refused(f"must be a number of US dollars from 0 to {self.limit:,}, got {shown(value)}")
        return amount

    def schema(self) -> dict[str, Any]:
        return {"minimum": 0, "maximum": int(self.limit)}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Time(Rule):
    """A datetime (naive means UTC), ISO-8601 text or Unix seconds, in [low, high); held as a UTC datetime."""

    low: float
    high: float
    annotation = datetime
    default = staticmethod(lambda: datetime.now(UTC))

    def clean(self, value: object) -> datetime:
        when = value
        if isinstance(value, str):
            try:
                when = datetime.fromisoformat(value)
            except ValueError:
                raise Refused(f"must be ISO-8601 text, a datetime or Unix seconds, got {shown(value)}") from None
        if isinstance(when, datetime):
            when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
            seconds = (when - _EPOCH) / timedelta(seconds=1)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            seconds = _number(value, float)
        else:
            raise Refused(f"must be a datetime, ISO-8601 text or Unix seconds, got {shown(value)}")
        if not self.low <= seconds < self.high:
            first, last = (datetime.fromtimestamp(s, UTC).date() for s in (self.low, self.high))
            raise Refused(f"must lie between {first} and {last} (UTC), got {shown(value)}")
        if isinstance(when, datetime):
            return when.astimezone(UTC)
        return _EPOCH + timedelta(milliseconds=int(seconds * 1000))  # the millisecond the writer's fast path stores

    def fast(self, name: str) -> str:
        return f"(type({name}) is float and {self.low} <= {name} < {self.high})"

    def kept(self, name: str) -> str:
        return "False"  # held as a datetime, whatever form came


@dataclass(frozen=True)
class JsonObject(Rule):
    """A small JSON object, held as a dict, stored as its compact JSON text (`text`)."""

    limit: int
    annotation = dict[str, Any]
    default = dict

    def clean(self, value: object) -> dict[str, Any]:
        self.text(value)
        return value  # type: ignore[return-value]

    def text(self, value: object) -> str | None:
        """The stored form: compact JSON with sorted keys, None when empty; Refused when it cannot be."""
        if not value:
            return None
        if not isinstance(value, dict):
            raise Refused(f"must be a JSON object, got {type(value).__name__}")
        try:
            text = json.dumps(value, separators=(",", ":"), default=str, sort_keys=True, allow_nan=False,
                              ensure_ascii=False)  # fmt: skip
        except RecursionError:
            raise Refused("is nested too deeply") from None
        except (TypeError, ValueError) as exc:  # NaN or infinity, keys that cannot be sorted, a cycle
            raise Refused(f"must be a JSON object: {storable(str(exc))}") from None
        if JSON_NUL.search(text):
            raise Refused("holds a NUL character (\\u0000), which PostgreSQL cannot store in text")
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise Refused(unstorable(exc.object[exc.start : exc.end]) or "is not UTF-8 text") from None
        if size > self.limit:
            raise Refused(f"is {size} bytes of JSON; at most {self.limit} allowed")
        return text

    def fast(self, name: str) -> str:
        return f"({name} is None)"
