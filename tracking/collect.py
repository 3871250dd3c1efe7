"""The body of `POST /v1/events` (SPEC section 9): parsed, validated and priced whole before anything is
stored, on the same path as `usage-bot ingest` (`parse_event`, `event_to_row`, `insert_isolating`).

A body is one JSON object, a JSON array of objects, or JSON lines. Any event that fails validation
refuses the whole request (`BodyError`, naming the event's index and the field); `rejected` in the
answer lists only events the database itself refused while storing the others (a cost that would
take a room-hour's sum past 64-bit integers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .events import UsageEvent
from .ingest import NotJson, loads, parse_event
from .pricing import Pricer
from .rows import event_to_row
from .store import Store
from .store.isolation import insert_isolating, refusal_reason


class BodyError(ValueError):
    """The request body cannot be taken; the message names the event (by index) and the field."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


@dataclass
class CollectResult:
    stored: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"stored": self.stored, "duplicates": self.duplicates, "rejected": self.rejected}


def decode_body(body: bytes) -> list[object]:
    """One object, an array, or JSON lines, as a list of decoded values."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"body: not UTF-8 (byte {exc.start})") from exc
    if not text.strip():
        raise BodyError("body: empty; send one event, a JSON array of events, or JSON lines")
    try:
        data = loads(text)
    except NotJson as whole:
        lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
        if len(lines) < 2:
            raise BodyError(f"body: not valid JSON ({whole})") from None
        values = []
        for number, line in lines:
            try:
                values.append(loads(line))
            except NotJson as exc:
                raise BodyError(f"body: line {number} is not valid JSON ({exc})", len(values)) from None
        return values
    items = data if isinstance(data, list) else [data]
    if not items:
        raise BodyError("body: an empty array holds no event")
    return items


def parse_events(body: bytes) -> list[UsageEvent]:
    """Every event of the body, validated; the first bad one raises BodyError("events[i].field: why")."""
    events = []
    for index, item in enumerate(decode_body(body)):
        try:
            events.append(parse_event(item))
        except ValueError as exc:
            raise BodyError(f"events[{index}].{exc}" if isinstance(item, dict) else f"events[{index}]: {exc}",
                            index) from None  # fmt: skip
    return events


def price_events(events: list[UsageEvent], pricer: Pricer) -> list[tuple]:
    """Store rows, priced with the server's overrides; a cost no call may have refuses the request."""
    rows = []
    for index, event in enumerate(events):
        try:
            rows.append(event_to_row(event, pricer))
        except ValueError as exc:
            raise BodyError(f"events[{index}]: {exc}", index) from None
    return rows


async def store_rows(store: Store, rows: list[tuple]) -> CollectResult:
    """Insert in one transaction (halved only around rows the database refuses); duplicates by event_id."""
    result = CollectResult()

    def refuse(index: int, exc: BaseException) -> None:
        result.rejected.append({"index": index, "error": refusal_reason(exc)})

    result.stored = await insert_isolating(store, rows, refuse)
    result.duplicates = len(rows) - result.stored - len(result.rejected)
    return result
