"""Reservations: what calls under way hold against hard quotas, so concurrent calls cannot jointly overshoot.

A reservation is taken inside one exclusive transaction with the check that allows it (SQLite: an
immediate transaction; PostgreSQL: a transaction-scoped advisory lock), so two processes sharing the
database take turns; it ends when the call's event is stored (in the same
transaction as the event) or when it expires (a caller that crashed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from ..fields import TRACKER
from .base import Filters
from .planning import where_clause
from .statements import Statements


@dataclass(frozen=True)
class ReservationRow:
    id: str
    room_id: str
    agent: str
    user_id: str
    tokens: int
    cost_pusd: int
    created_ms: int
    expires_ms: int
    source: str = TRACKER
    """Who holds it: the entry point (a tracker), or the HTTP key that asked for it."""


class ReservationsMixin(Statements):
    """Mixed into a store: the SQL is the dialect SQLite and PostgreSQL share."""

    async def reserve_if(self, row: ReservationRow, allowed: Callable[[], Awaitable[bool]]) -> bool:
        """Store the reservation if `allowed()` (which may read this store, and may raise) says so,
        as one transaction: no other writer, in this process or another, comes between the two."""
        async with self._exclusive() as run:
            await run("DELETE FROM reservations WHERE expires_ms <= ?", (row.created_ms,))
            if not await allowed():
                return False
            await run(
                "INSERT INTO reservations (id, room_id, agent, user_id, tokens, cost_pusd, created_ms, expires_ms,"
                " source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (row.id, row.room_id, row.agent, row.user_id, row.tokens, row.cost_pusd, row.created_ms,
                 row.expires_ms, row.source),
            )  # fmt: skip
        return True

    async def reserved(self, filters: Filters, now_ms: int) -> tuple[int, int]:
        """(tokens, pico-USD) held by live reservations matching the filters."""
        where, params = where_clause("expires_ms", now_ms + 1, 2**62, filters)
        sql = f"SELECT coalesce(sum(tokens), 0), coalesce(sum(cost_pusd), 0) FROM reservations WHERE {where}"
        row = (await self._fetchall(sql, params))[0]
        return int(row[0]), int(row[1])

    async def end_reservations(self, ids: Sequence[str]) -> None:
        """End reservations whose calls will not be stored (for example, refused before they began)."""
        if ids:
            await self._write_many("DELETE FROM reservations WHERE id = ?", [(i,) for i in ids])
