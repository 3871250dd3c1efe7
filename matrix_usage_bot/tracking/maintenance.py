"""Retention: raw events older than `retention_days` are deleted; the rollups stay."""

from __future__ import annotations

import time

from .store import MS_PER_HOUR, Store

MS_PER_DAY = 24 * MS_PER_HOUR


async def apply_retention(store: Store, retention_days: int | None, now_ms: int | None = None) -> int:
    """Delete raw events older than the retention window, cut on a whole UTC hour; returns how many."""
    if retention_days is None:
        return 0
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    cutoff = (now_ms - retention_days * MS_PER_DAY) // MS_PER_HOUR * MS_PER_HOUR
    return await store.delete_events_before(cutoff)
