"""Usage storage. `open_store(url)` picks the backend from the URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from ..fields import EVENT_COLUMNS
from .base import MS_PER_HOUR, Filters, StoreError, Sums
from .batch import RowBatch, prepare_batch
from .postgres.dialect import is_postgres, redact
from .protocol import Store
from .records import EVERYWHERE, QuotaRow
from .sqlite.store import SQLiteStore


def sqlite_path(url: str) -> str:
    """`sqlite:///relative.db`, `sqlite:////absolute.db`, or a plain file path."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
    elif url.startswith("sqlite://"):
        raise StoreError(f"storage url {url!r}: use sqlite:///relative/path.db or sqlite:////absolute/path.db")
    elif "://" in url:
        scheme = url.split("://", 1)[0]
        if is_postgres(url):
            raise StoreError(f"storage url {redact(url)!r} is PostgreSQL, not a SQLite file")
        raise StoreError(
            f"storage url {redact(url)!r}: unsupported scheme {scheme!r}"
            " (use sqlite:///path.db or postgresql://user:password@host:port/db)"
        )
    else:
        path = url
    if not path:
        raise StoreError(f"storage url {url!r} names no file")
    return path


async def open_store(url: str, *, must_exist: bool = False) -> Store:
    """Open (creating and migrating if needed) the store at url: `sqlite:///path` or `postgresql://...`.

    With must_exist, a missing SQLite file is an error (a PostgreSQL database is always there to connect to).
    """
    if is_postgres(url):
        from .postgres.store import PostgresStore  # imports psycopg: only for those who use PostgreSQL

        return await PostgresStore.open(url)
    path = sqlite_path(url)
    if must_exist and path != ":memory:" and not Path(path).expanduser().exists():
        raise StoreError(f"no usage database at {path}")
    return await SQLiteStore.open(path)


@asynccontextmanager
async def another_connection(store: Store) -> AsyncIterator[Store]:
    """A second connection to the same store, closed on leaving: a long change made on it (`forget_user`)
    reaches this one's readers whole once committed, never half done (a connection sees its own uncommitted
    changes). An in-memory SQLite database has no other connection: the store itself."""
    if isinstance(store, SQLiteStore) and store.path == ":memory:":
        yield store
        return
    other = await open_store(getattr(store, "url", None) or f"sqlite:///{store.path}")  # type: ignore[attr-defined]
    try:
        yield other
    finally:
        await other.close()


__all__ = [
    "EVENT_COLUMNS",
    "EVERYWHERE",
    "MS_PER_HOUR",
    "Filters",
    "QuotaRow",
    "RowBatch",
    "SQLiteStore",
    "Store",
    "StoreError",
    "Sums",
    "another_connection",
    "is_postgres",
    "open_store",
    "prepare_batch",
    "redact",
    "sqlite_path",
]
