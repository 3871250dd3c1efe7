"""Copying one usage store into another (`usage-bot migrate`), SQLite to PostgreSQL and back.

Events go through the target's ordinary insert path, each with its own `source`, so its rollups are built
exactly as if the events had been recorded there, and a second copy stores nothing (an event_id counts once
in its room). An event whose text some backend cannot store (it got into a SQLite store before such text
was refused) is refused with the reason every entry point gives, and a row the target refuses is set aside
alone: both are named in the result, and everything else is copied. Quotas, claims (warnings fired, digests
posted, commands answered) and room values follow; rows the target already has are kept. Raw events that
retention already deleted exist only in the source's rollups and cannot be copied: the result says how many
calls that leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..rules import shown
from ..validation import row_problem
from .base import Filters
from .isolation import insert_isolating, refusal_reason
from .protocol import Store
from .tables import COPIED_TABLES

_ALL_MS = (-(2**62), 2**62)


@dataclass
class CopyResult:
    events_stored: int = 0
    events_there: int = 0
    """Events the target had already (copied before, or recorded there)."""
    rows_stored: dict[str, int] = field(default_factory=dict)
    """New rows per small table (quota_rules, claims, room_values)."""
    calls_only_in_rollups: int = 0
    """Calls the source counts in its rollups but no longer holds as raw events (deleted by retention)."""
    refused: list[str] = field(default_factory=list)
    """The events not copied, each as "event 'ID': why" (text a backend cannot store, a row the target refuses)."""

    def summary(self) -> str:
        tables = ", ".join(f"{table} {count}" for table, count in self.rows_stored.items())
        text = f"events: stored {self.events_stored}, already there {self.events_there}"
        text += f", not copied {len(self.refused)}" if self.refused else ""
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
        result.events_there += len(batch) - inserted - (len(result.refused) - refused)
        batch.clear()

    async for row in source.iter_events(*_ALL_MS, Filters()):
        batch.append(row)
        if len(batch) >= batch_size:
            await write()
    if batch:
        await write()
    for table in COPIED_TABLES:
        result.rows_stored[table] = await target.import_rows(table, await source.export_rows(table))
    rolled = sum(s.calls for s in await source.sum_rollups(-(2**40), 2**40, Filters(), None))
    raw = sum(s.calls for s in await source.sum_events(*_ALL_MS, Filters(), None))
    result.calls_only_in_rollups = max(0, rolled - raw)
    return result
