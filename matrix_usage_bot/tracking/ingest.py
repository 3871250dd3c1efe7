"""Loading events from JSON lines (README: Command line, `usage-bot ingest`), for agents not written in Python."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .fields import INGEST
from .pricing import Pricer
from .rows import values_to_row
from .store import Store
from .store.isolation import insert_isolating, refusal_reason
from .validation import clean

INGEST_BATCH = 20_000
"""Lines stored in one transaction (as many as the tracker's writer stores in one): a commit writes much the same
index and rollup pages for 20,000 events as for 5,000, so it costs less per event (measured on 200,000 lines of
bench/data.py: about 47 to 42 µs of CPU per line, all steps)."""


@dataclass
class IngestResult:
    stored: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, part: IngestResult) -> None:
        """Count in the result of a later part of the same input."""
        self.stored += part.stored
        self.duplicates += part.duplicates
        self.errors.extend(part.errors)

    def summary(self) -> str:
        return f"stored {self.stored}, duplicates {self.duplicates}, skipped {len(self.errors)}"


class NotJson(ValueError):
    """Text that is not JSON as every entry point reads it; the message says where or why."""


def _no_constant(name: str) -> object:
    raise NotJson(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)
"""`json.loads` with these arguments would build a decoder for every call (a line, on ingest's hot path)."""


def loads(text: str) -> object:
    """Standard JSON (no NaN or Infinity), whatever its shape: a number of too many digits or nesting too deep
    for Python's reader raise NotJson with the reason, as a syntax error does."""
    try:
        if text.startswith("\ufeff"):  # as json.loads says it
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        where = f"column {exc.colno}" if exc.lineno == 1 else f"line {exc.lineno} column {exc.colno}"
        raise NotJson(f"{exc.msg} at {where}") from None
    except RecursionError:
        raise NotJson("nested too deeply") from None
    except NotJson:
        raise
    except ValueError:  # Python's limit on the digits of an integer it reads
        raise NotJson(f"a number of more than {sys.get_int_max_str_digits():,} digits") from None


def parse_line(line: str) -> dict[str, Any]:
    """One JSON object with the fields of docs/events.md, validated (`tracking.validation.clean`, as every
    entry point); raises ValueError with a readable reason."""
    try:
        data = loads(line)
    except NotJson as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    return parse_event(data, "each line must be a JSON object")


def parse_event(data: object, not_object: str = "an event must be a JSON object") -> dict[str, Any]:
    """A decoded JSON value as an event's values, as `clean` gives them (every entry point's rules, one pass);
    raises ValueError naming the field."""
    if not isinstance(data, dict):
        raise ValueError(not_object)
    if "total_tokens" in data:  # derived (input + output): taken and dropped
        data = {k: v for k, v in data.items() if k != "total_tokens"}
    return clean(data)


async def ingest_lines(store: Store, lines: Iterable[str], pricer: Pricer, batch_size: int = INGEST_BATCH, *,
                       first_line: int = 1) -> IngestResult:  # fmt: skip
    """Store every good line (bad lines are reported with their number, counted from `first_line`, and skipped)."""
    result = IngestResult()
    batch: list[tuple] = []
    numbers: list[int] = []

    def refuse(index: int, exc: BaseException) -> None:
        result.errors.append(f"line {numbers[index]}: {refusal_reason(exc)}")

    async def write() -> None:
        refused = len(result.errors)
        inserted = await insert_isolating(store, batch, refuse)
        result.stored += inserted
        result.duplicates += len(batch) - inserted - (len(result.errors) - refused)
        batch.clear()
        numbers.clear()

    for number, line in enumerate(lines, start=first_line):
        if not line.strip():
            continue
        try:
            batch.append(values_to_row(parse_line(line), pricer, INGEST))
            numbers.append(number)
        except ValueError as exc:
            result.errors.append(f"line {number}: {exc}")
            continue
        if len(batch) >= batch_size:
            await write()
    if batch:
        await write()
    return result
