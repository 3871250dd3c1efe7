"""`usage-bot delete`: events taken back by source key, room or agent, in a time range (README: Data rights).

The matching events are deleted a page at a time (`changes.PAGE`, in (ts_ms, seq) order) inside one
transaction (`store.changes`); each page's rows come back from `DELETE ... RETURNING`, so exactly the rows
deleted are summed by the writer's own `batch.aggregate` and taken off every rollup (the sums negated,
`batch.signed`), a row left with no call removed. Every rollup then equals a GROUP BY over the events that
remain. Calls whose raw events retention already deleted exist only as sums in their quarter hour's rollup
rows, mixed with other calls: they cannot be told apart, so they stay, and the answer says how many.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from ..fields import EVENT_COLUMNS, SUM_NAMES
from ..slots import MS_PER_SLOT
from .base import Filters, Sums
from .batch import aggregate, signed
from .changes import PAGE, apply_rollups
from .planning import rollup_query, where_clause
from .statements import Statements

Fetch = Callable[[str, Sequence], Awaitable[list[tuple]]]
Progress = Callable[[int, int], None]
"""Told (done, total) as a long command goes on; total is known before the first page."""
_FAR = 2**53  # past any stored time: events are from 2000 to 2100


@dataclass(frozen=True)
class EventMatch:
    """Which events `delete` takes: all of these that are given (at least one of source, room, agent)."""

    source: str | None = None
    room_id: str | None = None
    agent: str | None = None
    since_ms: int | None = None
    """Events at or after this time."""
    until_ms: int | None = None
    """Events before this time."""

    def __post_init__(self) -> None:
        if self.source is None and self.room_id is None and self.agent is None:
            raise ValueError("name the events to delete: a source key, a room or an agent")
        if self.since_ms is not None and self.until_ms is not None and self.since_ms >= self.until_ms:
            raise ValueError("the time range is empty: since must be before until")

    @property
    def filters(self) -> Filters:
        return Filters(source=self.source, room_id=self.room_id, agent=self.agent)

    @property
    def start_ms(self) -> int:
        return self.since_ms if self.since_ms is not None else 0

    @property
    def end_ms(self) -> int:
        return self.until_ms if self.until_ms is not None else _FAR


@dataclass
class Deletion:
    """What a delete takes (a dry run) or took: the events' totals, their rooms, and what it cannot take."""

    totals: Sums = field(default_factory=Sums)
    rooms: set[str] = field(default_factory=set)
    sums_only: int = 0
    """Calls of the range's quarter hours that match but exist only as rollup sums (older than the retention)."""

    @property
    def events(self) -> int:
        return self.totals.calls


def _totals_of(sums: dict[str, list[tuple]], into: Deletion) -> None:
    """Add the room-by-day sums of a page (`batch.aggregate`'s `rollup_room_daily`) to the deletion's totals."""
    for row in sums["rollup_room_daily"]:
        into.rooms.add(row[1])
        into.totals.add(Sums(None, *row[2 : 2 + len(SUM_NAMES)]))


class ErasureMixin(Statements):
    """Mixed into a store: the SQL is the dialect SQLite and PostgreSQL share."""

    async def sum_events(self, start_ms: int, end_ms: int, filters: Filters, group: str | None) -> list[Sums]:
        raise NotImplementedError

    async def preview_delete(self, match: EventMatch) -> Deletion:
        """What `delete_events` would take, changing nothing."""
        deletion = Deletion()
        for room in await self.sum_events(match.start_ms, match.end_ms, match.filters, "room"):
            deletion.rooms.add(str(room.key))
            deletion.totals.add(room)
        deletion.sums_only = await _sums_only(self._fetchall, match)
        return deletion

    async def delete_events(self, match: EventMatch, progress: Progress | None = None) -> Deletion:
        """Delete the matching events and take them off every rollup, in one transaction."""
        deletion = Deletion()
        where, params = where_clause("ts_ms", match.start_ms, match.end_ms, match.filters)
        async with self._changes() as changes:
            total = int((await changes.fetch(f"SELECT count(*) FROM events WHERE {where}", params))[0][0])
            if progress is not None:
                progress(0, total)
            after: tuple[int, int] = (match.start_ms - 1, 0)
            while True:
                page = await changes.fetch(_DELETE_PAGE.format(where=where), [*params, *after, PAGE])
                if not page:
                    break
                sums = aggregate([r[2:] for r in page])
                await apply_rollups(changes, signed(sums, -1))
                _totals_of(sums, deletion)
                after = max((r[0], r[1]) for r in page)
                if progress is not None:
                    progress(deletion.events, total)
            deletion.sums_only = await _sums_only(changes.fetch, match)
        return deletion


_DELETE_PAGE = (
    "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE {where} AND (ts_ms, seq) > (?, ?)"
    f" ORDER BY ts_ms, seq LIMIT ?) RETURNING ts_ms, seq, {', '.join(EVENT_COLUMNS)}"
)
"""The next page of matching events after (ts_ms, seq), deleted; each row `ts_ms, seq`, then `EVENT_COLUMNS`."""


async def _sums_only(fetch: Fetch, match: EventMatch) -> int:
    """Calls matching in the quarter hours the range touches that the rollups hold and the raw events do not."""
    first, end = match.start_ms // MS_PER_SLOT, -(-match.end_ms // MS_PER_SLOT)
    sql, params = rollup_query(first, end, match.filters, None)
    rows = await fetch(sql, params)
    kept = Sums.from_row(rows[0]).calls if rows else 0
    where, params = where_clause("ts_ms", first * MS_PER_SLOT, end * MS_PER_SLOT, match.filters)
    raw = int((await fetch(f"SELECT count(*) FROM events WHERE {where}", params))[0][0])
    return max(kept - raw, 0)
