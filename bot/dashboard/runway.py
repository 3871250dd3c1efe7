"""Runway: when a quota runs out at the pace so far in its window (SPEC section 12).

Kept in one function so that the advice work (`!usage quota`, early warnings) can take it over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tracking.quotas import QuotaStatus


@dataclass(frozen=True)
class Runway:
    """`runs_out` is when the quota is used up at the window's pace so far; None when it lasts the
    window (or nothing is used yet). `used_up` says it already is."""

    runs_out: datetime | None
    used_up: bool = False


def runway(status: QuotaStatus, now: datetime) -> Runway:
    """Use so far over the time elapsed in the window, carried forward until the limit is reached."""
    if status.exhausted:
        return Runway(now, used_up=True)
    start, end = status.period.start, status.period.end
    elapsed = (now - start).total_seconds()
    if status.used <= 0 or elapsed <= 0 or now >= end:
        return Runway(None)
    seconds_left = (status.limit - status.used) * elapsed / status.used
    runs_out = now + timedelta(seconds=seconds_left)
    if runs_out >= end:
        return Runway(None)
    return Runway(runs_out.astimezone(status.period.tz))


def runway_text(status: QuotaStatus, now: datetime | None = None) -> str:
    """'runs out about 23 Nov 14:00', 'lasts the window' or 'used up'."""
    result = runway(status, now or datetime.now(UTC))
    if result.used_up:
        return "used up"
    if result.runs_out is None:
        return "lasts the window"
    return f"runs out about {result.runs_out:%-d %b %H:%M}"
