"""Usage storage. `open_store(url)` picks the backend from the URL."""

from __future__ import annotations

from pathlib import Path

from ..fields import EVENT_COLUMNS
from .base import MS_PER_HOUR, Filters, StoreError, Sums
from .batch import RowBatch, prepare_batch
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
        if scheme.startswith("postgres"):
            raise StoreError(f"storage url {url!r}: PostgreSQL storage is not available in this version yet")
        raise StoreError(f"storage url {url!r}: unsupported scheme {scheme!r} (use sqlite:///path.db)")
    else:
        path = url
    if not path:
        raise StoreError(f"storage url {url!r} names no file")
    return path


async def open_store(url: str, *, must_exist: bool = False) -> Store:
    """Open (creating and migrating if needed) the store at url; with must_exist, a missing file is an error."""
    path = sqlite_path(url)
    if must_exist and path != ":memory:" and not Path(path).expanduser().exists():
        raise StoreError(f"no usage database at {path}")
    return await SQLiteStore.open(path)


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
    "open_store",
    "prepare_batch",
    "sqlite_path",
]
