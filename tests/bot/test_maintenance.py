"""The bot's daily retention job: scheduled once a day and shortly after start; it logs what it deleted."""

import asyncio
import logging
import time
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.features.retention import JOB_ID, run_retention, schedule_retention
from matrix_usage_bot.tracking.store import open_store

DAY = 86400


async def test_the_job_runs_after_start_then_daily_and_logs(store_url, caplog):
    now = time.time()
    with tracking.Tracker(store_url) as tracker:
        for n, age in enumerate([400, 40, 1]):
            tracker.record(provider="openai", model="gpt-4o", input_tokens=10, output_tokens=1, room_id="!r:x",
                           ts=now - age * DAY, event_id=f"e{n}")  # fmt: skip
    store = await open_store(store_url)
    scheduler = AsyncIOScheduler(timezone="Europe/Berlin")
    try:
        schedule_retention(scheduler, store, 30, first_run_delay=timedelta(0))
        job = scheduler.get_job(JOB_ID)
        assert str(job.trigger).startswith("cron[hour='3', minute='17'")
        caplog.set_level(logging.INFO, logger="matrix_usage_bot.bot.features.retention")
        scheduler.start()
        for _ in range(200):
            if any("Retention: deleted" in r.message for r in caplog.records):
                break
            await asyncio.sleep(0.05)
        assert "Retention: deleted 2 raw events older than 30 days (rollups kept)" in caplog.text
        rows = [r async for r in store.iter_events(0, int(now * 1000) + 1, tracking.store.Filters())]
        assert [r[0] for r in rows] == ["e2"]
        next_run = scheduler.get_job(JOB_ID).next_run_time
        assert (next_run.hour, next_run.minute) == (3, 17)
        schedule_retention(scheduler, store, 30)  # a second start replaces the job
        assert len(scheduler.get_jobs()) == 1
    finally:
        scheduler.shutdown(wait=False)
        await store.close()


async def test_no_retention_configured_keeps_everything(store_url):
    store = await open_store(store_url)
    scheduler = AsyncIOScheduler()
    schedule_retention(scheduler, store, None)
    assert scheduler.get_jobs() == [] and await run_retention(store, None) == 0
    await store.close()
