"""When a quota runs out at the pace so far in its window, and when that deserves an early warning.

The pace is the window's use over the time elapsed in it: a quota used `used` of `limit` after `elapsed`
runs out at start + elapsed * limit / used, unless that is after the window's end ("lasts the window").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..quotas import QuotaBook, QuotaStatus

EARLY_BY = timedelta(days=1)
"""A monthly quota whose runway ends more than this before its window does gets an early warning."""
MIN_ELAPSED = timedelta(hours=1)
"""No early warning in a window's first hour: too little to call a pace (as the month projection)."""


@dataclass(frozen=True)
class Runway:
    """A quota's runway: `runs_out` (in the quota's timezone) at the pace so far, None when it lasts the
    window; `used_up` when the window's use already reached the limit."""

    status: QuotaStatus
    now: datetime
    runs_out: datetime | None
    used_up: bool = False

    @property
    def lasts_window(self) -> bool:
        return self.runs_out is None and not self.used_up

    @property
    def early(self) -> bool:
        """Whether it runs out more than `EARLY_BY` before its window ends (with an hour of pace behind it)."""
        if self.runs_out is None or self.now - self.status.period.start < MIN_ELAPSED:
            return False
        return self.status.period.end - self.runs_out > EARLY_BY


def runway(status: QuotaStatus, now: datetime) -> Runway | None:
    """The runway of a quota whose window holds `now`, else None (its window is not running)."""
    period = status.period
    now_ms = int(now.timestamp() * 1000)
    if not period.start_ms <= now_ms < period.end_ms:
        return None
    if status.used >= status.limit:
        return Runway(status, now, None, used_up=True)
    elapsed = now_ms - period.start_ms
    if status.used <= 0 or elapsed <= 0:
        return Runway(status, now, None)
    out_ms = period.start_ms + elapsed * status.limit // status.used
    if out_ms >= period.end_ms:
        return Runway(status, now, None)
    runs_out = datetime.fromtimestamp(out_ms // 1000, UTC).replace(microsecond=out_ms % 1000 * 1000)
    return Runway(status, now, runs_out.astimezone(period.tz))


async def room_runways(book: QuotaBook, room_ids: Sequence[str]) -> list[Runway]:
    """Every quota of the room (`room_ids`: the room, then the rooms it replaced) with its runway now."""
    now = book.clock()
    found = [runway(status, now) for status in await book.statuses(room_ids)]
    return [r for r in found if r is not None]
