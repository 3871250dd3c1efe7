"""Writing a batch whose rows the database may refuse one by one, without losing the others."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence

from ..fields import EVENT_COLUMNS
from ..storable import shown, storable
from .base import StoreError
from .batch import RowBatch, prepare_batch

log = logging.getLogger(__name__)

DATA_ERRORS = (ValueError, TypeError, OverflowError, sqlite3.IntegrityError, sqlite3.InterfaceError,
               sqlite3.ProgrammingError, sqlite3.DataError)  # fmt: skip
"""What the database raises for rows it can never take; anything else (locked, busy, I/O, full) is retried."""
ANY_ERROR = (Exception,)
"""For a failure that keeps coming and is not the store's (`StoreError`): a row is blamed for it only when
the store took the other rows of its batch (see `insert_keeping_refusals`)."""


def refusal_reason(exc: BaseException) -> str:
    """Why the database refused a row, in words a person can act on."""
    text = str(exc)
    if isinstance(exc, OverflowError) or ("NOT NULL" in text and "cost_pusd" in text):
        return (
            "could not be stored: its cost would take a sum past 64-bit integers (about $9.2M in one room"
            " and hour); check its cost or price override"
        )
    return storable(f"could not be stored: {type(exc).__name__}: {text}")


def rejection(reason: str, payload: Mapping[str, object]) -> tuple[int, str, str]:
    """A row of `rejected_events` (when, why, the event as JSON), storable by every backend whatever it quotes."""
    try:
        text = json.dumps(payload, default=str)
    except (ValueError, TypeError, RecursionError):  # a cycle, or nested past what JSON writes
        text = json.dumps({name: shown(value) for name, value in payload.items()})
    return int(time.time() * 1000), storable(reason), text


async def insert_isolating(
    store: object, rows: Sequence[tuple], refuse: Callable[[int, BaseException], None], offset: int = 0,
    errors: tuple[type[BaseException], ...] = DATA_ERRORS,
) -> int:  # fmt: skip
    """Insert rows (EVENT_COLUMNS order) in one transaction; returns how many were new.

    A row the database cannot take at all would fail its whole batch on every retry. Such a batch is
    halved until the rows at fault are alone; ``refuse(index, error)`` is told of each, the others are
    stored. Halves already committed when a retry comes are duplicates by ``event_id``: nothing counts twice.
    A `StoreError` (the store away, locked) is never a row's fault: it goes up.
    """
    try:
        return await store.insert_batch(prepare_batch(rows))  # type: ignore[attr-defined]
    except errors as exc:
        if isinstance(exc, StoreError):
            raise
        if len(rows) <= 1:
            if rows:
                refuse(offset, exc)
                return 0
            raise
        half = len(rows) // 2
        first = await insert_isolating(store, rows[:half], refuse, offset, errors)
        return first + await insert_isolating(store, rows[half:], refuse, offset + half, errors)


async def insert_keeping_refusals(
    store: object, batch: RowBatch, errors: tuple[type[BaseException], ...] = DATA_ERRORS
) -> tuple[int, int]:
    """Insert a prepared batch; returns (rows inserted, rows refused). Rows the database refuses (``errors``)
    are kept in `rejected_events` with the reason and the rest stored; the batch's own refusals and the
    reservations it ends are written with them. With `ANY_ERROR`, a failure that every row meets alone is
    the store's, not a row's: it goes up and the batch is tried again."""
    try:
        return await store.insert_batch(batch), 0  # type: ignore[attr-defined]
    except errors as exc:
        if not batch.rows or isinstance(exc, StoreError):
            raise
        failure = exc
    refused: list[tuple[int, BaseException]] = []
    inserted = await insert_isolating(store, batch.rows, lambda index, exc: refused.append((index, exc)), 0, errors)
    if errors is not DATA_ERRORS and len(refused) == len(batch.rows):
        raise failure
    rejected = []
    for index, exc in refused:
        reason = refusal_reason(exc)
        log.error("a usage event was refused by the database (%s); kept in rejected_events", reason)
        rejected.append(rejection(reason, row_payload(batch.rows[index])))
    await store.insert_batch(prepare_batch([], [*batch.rejected, *rejected], batch.settles))  # type: ignore[attr-defined]
    return inserted, len(refused)


def prepare_isolating(rows: Sequence[tuple], rejected: list[tuple[int, str, str]], settles: Sequence[str]) -> RowBatch:
    """`prepare_batch`, except that a row whose sums cannot be computed is refused alone (into ``rejected``)."""
    try:
        return prepare_batch(rows, rejected, settles)
    except Exception:  # every row passed validation: a bug, which must cost its own row only
        log.exception("the sums of a usage batch failed; finding the row at fault")
    kept = []
    for row in rows:
        try:
            prepare_batch([row])
        except Exception as exc:
            rejected.append(rejection(f"could not be stored: {type(exc).__name__}: {exc}", row_payload(row)))
        else:
            kept.append(row)
    return prepare_batch(kept, rejected, settles)


def row_payload(row: tuple) -> dict[str, object]:
    return dict(zip(EVENT_COLUMNS, row, strict=True))
