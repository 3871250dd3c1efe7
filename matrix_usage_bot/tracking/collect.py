"""The body of `POST /v1/events` (README: HTTP API): parsed, validated and priced whole before anything is
stored, on the same path as `usage-bot ingest` (`parse_event`, `values_to_row`, `insert_isolating`): each
event validated once (`tracking.validation.clean`) and priced once, with the collector's overrides.

A body is one JSON object, a JSON array of objects, or JSON lines. Any event that fails validation
refuses the whole request (`BodyError`, naming the event's index and the field); `rejected` in the
answer lists only events the database itself refused while storing the others (a cost that would
take a room-hour's sum past 64-bit integers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .ingest import NotJson, loads, parse_event
from .pricing import Pricer
from .quotas.wire import RESERVATION_ID
from .rows import values_to_row
from .store import Store
from .store.batch import prepare_batch
from .store.isolation import DATA_ERRORS, insert_isolating, refusal_reason


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


def parse_events(body: bytes, reservations: dict[int, str] | None = None) -> list[dict[str, Any]]:
    """Every event of the body, validated (its values as `clean` gives them); the first bad one raises
    BodyError("events[i].field: why").

    With ``reservations`` (the collector's), an event's `reservation` (the id of the quota reservation its
    call held) is taken out into it, by the event's index; without, the field is unknown, as in `ingest`.
    """
    events = []
    for index, item in enumerate(decode_body(body)):
        try:
            if reservations is not None and isinstance(item, dict) and "reservation" in item:
                reservations[index] = reservation_id(item.pop("reservation"))
            events.append(parse_event(item))
        except ValueError as exc:
            raise BodyError(f"events[{index}].{exc}" if isinstance(item, dict) else f"events[{index}]: {exc}",
                            index) from None  # fmt: skip
    return events


def price_events(events: list[dict[str, Any]], pricer: Pricer, key_name: str) -> list[tuple]:
    """Store rows, priced with the server's overrides, their `source` the name of the key that posted them
    (whatever the body says); a cost no call may have refuses the request."""
    rows = []
    for index, event in enumerate(events):
        try:
            rows.append(values_to_row(event, pricer, key_name))
        except ValueError as exc:
            raise BodyError(f"events[{index}]: {exc}", index) from None
    return rows


def reservation_id(value: object) -> str:
    if not (isinstance(value, str) and RESERVATION_ID.fullmatch(value)):
        raise ValueError(f"reservation: not a reservation id of this collector (32 hex digits), got {value!r}")
    return value


async def store_rows(store: Store, rows: list[tuple], settles: Sequence[str] = ()) -> CollectResult:
    """Insert in one transaction (halved only around rows the database refuses); duplicates by event_id in a room.
    ``settles``: quota reservations these events end, in the transaction that stores them."""
    result = CollectResult()

    def refuse(index: int, exc: BaseException) -> None:
        result.rejected.append({"index": index, "error": refusal_reason(exc)})

    try:
        result.stored = await store.insert_batch(prepare_batch(rows, (), settles))
    except DATA_ERRORS:  # a row the database cannot take: the others are stored without it
        result.stored = await insert_isolating(store, rows, refuse)
        await store.end_reservations(settles)
    result.duplicates = len(rows) - result.stored - len(result.rejected)
    return result
