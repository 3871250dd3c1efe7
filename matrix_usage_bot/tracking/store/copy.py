"""Copying one usage store into another (`usage-bot migrate`), SQLite to PostgreSQL and back.

Events go through the target's ordinary insert path, each with its own `source`, so its rollups are built
exactly as if the events had been recorded there, and a second copy stores nothing (an event_id counts once
in its room). Quotas, claims (warnings fired, digests posted, commands answered) and room values follow;
rows the target already has are kept. An event or row whose text some backend cannot store (it got into a
SQLite store before such text was refused) is refused with the reason every entry point gives for events,
and an event or row the target refuses is set aside alone: both are named in the result, and everything
else is copied. Raw events that retention already deleted exist only in the source's rollups and cannot be
copied: the result says how many calls that leaves out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..storable import shown, unstorable
from ..validation import row_problem
from .base import Filters, StoreError
from .isolation import DATA_ERRORS, insert_isolating, refusal_reason
from .protocol import Store
from .tables import COPIED_TABLES

_ALL_MS = (-(2**62), 2**62)
_KEY_COLUMNS = {"quota_rules": 5, "claims": 2, "room_values": 2}
"""How many of a small table's first columns (COPIED_TABLES) are its primary key, which names a row."""


@dataclass
class CopyResult:
    events_stored: int = 0
    events_there: int = 0
    """Events the target had already (copied before, or recorded there)."""
    events_refused: int = 0
    rows_stored: dict[str, int] = field(default_factory=dict)
    """New rows per small table (quota_rules, claims, room_values)."""
    rows_refused: dict[str, int] = field(default_factory=dict)
    calls_only_in_rollups: int = 0
    """Calls the source counts in its rollups but no longer holds as raw events (deleted by retention)."""
    refused: list[str] = field(default_factory=list)
    """The events and rows not copied, each as "event 'ID': why" or "claims row ('KIND', 'KEY'): why" (text a
    backend cannot store, a row the target refuses)."""

    def summary(self) -> str:
        tables = ", ".join(f"{table} {count}" + (f" (not copied {self.rows_refused[table]})"
                                                 if self.rows_refused.get(table) else "")
                           for table, count in self.rows_stored.items())  # fmt: skip
        text = f"events: stored {self.events_stored}, already there {self.events_there}"
        text += f", not copied {self.events_refused}" if self.events_refused else ""
        text += f"; new rows: {tables}"
        if self.calls_only_in_rollups:
            text += (f"; {self.calls_only_in_rollups} calls older than the source's retention exist only in its"
                     " rollups and were not copied")  # fmt: skip
        return text


async def copy_store(source: Store, target: Store, batch_size: int = 5_000) -> CopyResult:
    result = CopyResult()
    batch: list[tuple] = []

    async def write() -> None:
        rows, refused = [], len(result.refused)
        for row in batch:
            problem = row_problem(row)
            if problem is None:
                rows.append(row)
            else:
                result.refused.append(f"event {shown(row[0])}: {problem}")

        def refuse(index: int, exc: BaseException) -> None:
            result.refused.append(f"event {shown(rows[index][0])}: {refusal_reason(exc)}")

        inserted = await insert_isolating(target, rows, refuse)
        result.events_stored += inserted
        result.events_refused += len(result.refused) - refused
        result.events_there += len(batch) - inserted - (len(result.refused) - refused)
        batch.clear()

    async for row in source.iter_events(*_ALL_MS, Filters()):
        batch.append(row)
        if len(batch) >= batch_size:
            await write()
    if batch:
        await write()
    for table in COPIED_TABLES:
        await _copy_table(source, target, table, result)
    rolled = sum(s.calls for s in await source.sum_rollups(-(2**40), 2**40, Filters(), None))
    raw = sum(s.calls for s in await source.sum_events(*_ALL_MS, Filters(), None))
    result.calls_only_in_rollups = max(0, rolled - raw)
    return result


async def _copy_table(source: Store, target: Store, table: str, result: CopyResult) -> None:
    """One small table's rows that the target lacks; a row no store can keep, or the target refuses, is named."""
    refused = len(result.refused)

    def name(row: tuple) -> str:
        return f"{table} row ({', '.join(shown(value) for value in row[: _KEY_COLUMNS[table]])})"

    def refuse(row: tuple, exc: BaseException) -> None:
        result.refused.append(f"{name(row)}: {refusal_reason(exc)}")

    rows = []
    for row in await source.export_rows(table):
        problem = next((f"{column}: {why}" for column, value in zip(COPIED_TABLES[table], row, strict=True)
                        if type(value) is str and (why := unstorable(value))), None)  # fmt: skip
        if problem is None:
            rows.append(row)
        else:
            result.refused.append(f"{name(row)}: {problem}")
    result.rows_stored[table] = await _import_alone(target, table, rows, refuse)
    result.rows_refused[table] = len(result.refused) - refused


async def _import_alone(target: Store, table: str, rows: Sequence[tuple],
                        refuse: Callable[[tuple, BaseException], None]) -> int:  # fmt: skip
    """Import rows in one go; when the target refuses them, halves until the rows at fault are alone (each
    told to `refuse`, the others imported). A `StoreError` (the store away, locked) is no row's fault."""
    if not rows:
        return 0
    try:
        return await target.import_rows(table, rows)
    except DATA_ERRORS as exc:
        if isinstance(exc, StoreError):
            raise
        if len(rows) == 1:
            refuse(rows[0], exc)
            return 0
    half = len(rows) // 2
    first = await _import_alone(target, table, rows[:half], refuse)
    return first + await _import_alone(target, table, rows[half:], refuse)
