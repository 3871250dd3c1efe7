"""What a store offers the SQL shared by every backend (written with `?` placeholders)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager

Run = Callable[[str, Sequence], Awaitable[int]]
"""Runs one statement inside the transaction; returns the number of rows changed."""


class Statements:
    """Implemented by each store; the shared mixins (bookkeeping, quotas, reservations) use only these."""

    async def _fetchall(self, sql: str, params: Sequence = ()) -> list[tuple]:
        raise NotImplementedError

    async def _write(self, sql: str, params: Sequence) -> int:
        """One statement in its own transaction; returns the number of rows changed."""
        raise NotImplementedError

    async def _write_many(self, sql: str, rows: Sequence[Sequence]) -> None:
        """One statement for each parameter row, in one transaction."""
        raise NotImplementedError

    def _exclusive(self) -> AbstractAsyncContextManager[Run]:
        """A transaction no other writer (in any process) comes into; committed on leaving, else rolled back."""
        raise NotImplementedError
