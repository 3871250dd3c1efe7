"""The bot's daily housekeeping: retention of raw events (`storage.retention_days`).

Rollups are kept forever, so reports over old periods keep working; only `!usage export` (raw
events) sees less than the retention window. The job runs shortly after start, then once a day.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from apscheduler.schedulers.base import BaseScheduler

from matrix_usage_bot.tracking.maintenance import apply_retention
from matrix_usage_bot.tracking.store import Store

log = logging.getLogger(__name__)

JOB_ID = "retention"
DAILY_AT = (3, 17)  # local time, away from midnight digests and the top of the hour
FIRST_RUN_DELAY = timedelta(minutes=2)


async def run_retention(store: Store, retention_days: int | None) -> int:
    """Apply retention once and log how many raw events went; errors are logged, never raised."""
    if retention_days is None:
        return 0
    try:
        deleted = await apply_retention(store, retention_days)
    except Exception:
        log.exception("Retention of raw events older than %d days failed", retention_days)
        return 0
    log.info("Retention: deleted %d raw events older than %d days (rollups kept)", deleted, retention_days)
    return deleted


def schedule_retention(
    scheduler: BaseScheduler,
    store: Store,
    retention_days: int | None,
    *,
    first_run_delay: timedelta = FIRST_RUN_DELAY,
) -> None:
    """Add (or replace) the daily retention job; its first run is `first_run_delay` after now."""
    if retention_days is None:
        log.info("Retention is off (storage.retention_days is empty): raw events are kept")
        return
    hour, minute = DAILY_AT
    scheduler.add_job(
        run_retention,
        "cron",
        args=(store, retention_days),
        id=JOB_ID,
        replace_existing=True,
        hour=hour,
        minute=minute,
        next_run_time=datetime.now(scheduler.timezone) + first_run_delay,
        coalesce=True,
        misfire_grace_time=6 * 3600,
        max_instances=1,
    )
