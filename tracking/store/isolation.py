"""Writing a batch whose rows the database may refuse one by one, without losing the others."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from ..fields import EVENT_COLUMNS
from .batch import prepare_batch

DATA_ERRORS = (ValueError, TypeError, OverflowError, sqlite3.IntegrityError, sqlite3.InterfaceError,
               sqlite3.ProgrammingError, sqlite3.DataError)  # fmt: skip
"""What the database raises for rows it can never take; anything else (locked, busy, I/O, full) is retried."""


def refusal_reason(exc: BaseException) -> str:
    """Why the database refused a row, in words a person can act on."""
    text = str(exc)
    if isinstance(exc, OverflowError) or ("NOT NULL" in text and "cost_pusd" in text):
        return (
            "could not be stored: its cost would take a sum past 64-bit integers (about $9.2M in one room"
            " and hour); check its cost or price override"
        )
    return f"could not be stored: {type(exc).__name__}: {text}"


async def insert_isolating(
    store: object, rows: Sequence[tuple], refuse: Callable[[int, BaseException], None], offset: int = 0
) -> int:
    """Insert rows (EVENT_COLUMNS order) in one transaction; returns how many were new.

    A row the database cannot take at all would fail its whole batch on every retry. Such a batch is
    halved until the rows at fault are alone; ``refuse(index, error)`` is told of each, the others are
    stored. Halves already committed when a retry comes are duplicates by ``event_id``: nothing counts twice.
    """
    try:
        return await store.insert_batch(prepare_batch(rows))  # type: ignore[attr-defined]
    except DATA_ERRORS as exc:
        if len(rows) <= 1:
            if rows:
                refuse(offset, exc)
                return 0
            raise
        half = len(rows) // 2
        first = await insert_isolating(store, rows[:half], refuse, offset)
        return first + await insert_isolating(store, rows[half:], refuse, offset + half)


def row_payload(row: tuple) -> dict[str, object]:
    return dict(zip(EVENT_COLUMNS, row, strict=True))
