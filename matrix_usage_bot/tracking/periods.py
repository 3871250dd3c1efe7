"""The period grammar of README: Running the bot, as calendar periods in a timezone.

today, yesterday, week (the last 7 days, today included), month (this calendar month), Nh (the last
N hours, up to now), Nd (the last N days, today included), YYYY-MM, YYYY-MM-DD,
YYYY-MM-DD..YYYY-MM-DD (both days included), all. A period is the half-open interval [start, end)
between local midnights, or, for hours, between two instants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .validation import MIN_TS

PERIOD_HELP = (
    "today, yesterday, week, month, Nh (e.g. 6h), Nd (e.g. 30d), YYYY-MM, YYYY-MM-DD, YYYY-MM-DD..YYYY-MM-DD,"
    " all (every event: from 2000-01-01 UTC)"
)
MAX_HOURS = 24 * 31
MS_PER_HOUR = 3_600_000
MAX_DAYS = 3660
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
"""Days a period may name: events are stored from 2000 to 2099 (tracking.validation.MIN_TS, MAX_TS)."""
FIRST_INSTANT = datetime.fromtimestamp(MIN_TS, UTC)
"""The earliest time an event may have (2000-01-01 UTC): where `all` starts."""


class PeriodError(ValueError):
    """A period that does not parse; the message says what is accepted."""


@dataclass(frozen=True)
class Period:
    """Whole local days from `first_day` up to `end_day`, or, with `bounds_ms`, exactly that span
    (hours: `Nh`, an hourly quota window); the days then are the ones the span touches."""

    label: str
    first_day: date
    end_day: date
    tz: ZoneInfo
    bounds_ms: tuple[int, int] | None = None

    @property
    def start(self) -> datetime:
        if self.bounds_ms is not None:
            return datetime.fromtimestamp(self.bounds_ms[0] / 1000, UTC)
        return local_midnight(self.first_day, self.tz)

    @property
    def end(self) -> datetime:
        if self.bounds_ms is not None:
            return datetime.fromtimestamp(self.bounds_ms[1] / 1000, UTC)
        return local_midnight(self.end_day, self.tz)

    @property
    def start_ms(self) -> int:
        return self.bounds_ms[0] if self.bounds_ms is not None else int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return self.bounds_ms[1] if self.bounds_ms is not None else int(self.end.timestamp() * 1000)

    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range((self.end_day - self.first_day).days)]


def hours_period(label: str, start_ms: int, end_ms: int, tz: ZoneInfo) -> Period:
    """The span [start_ms, end_ms) as a Period (its days are the local days it touches)."""
    first = datetime.fromtimestamp(start_ms / 1000, UTC).astimezone(tz).date()
    last = datetime.fromtimestamp((end_ms - 1) / 1000, UTC).astimezone(tz).date()
    return Period(label, first, last + timedelta(days=1), tz, (start_ms, end_ms))


def this_hour(tz: ZoneInfo, now: datetime | None = None) -> Period:
    """The current local clock hour (in zones offset by half hours, it is not a UTC hour)."""
    local = (now or datetime.now(UTC)).astimezone(tz)
    start = local.replace(minute=0, second=0, microsecond=0)
    start_ms = int(start.timestamp() * 1000)
    return hours_period(f"{start:%H}:00 to {(start + timedelta(hours=1)):%H}:00", start_ms, start_ms + MS_PER_HOUR, tz)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PeriodError(f"unknown timezone {name!r} (use an IANA name such as Europe/Berlin)") from exc


def today_in(tz: ZoneInfo, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(tz).date()


def parse_period(text: str, tz: ZoneInfo, now: datetime | None = None) -> Period:
    spec = text.strip().lower()
    today = today_in(tz, now)
    tomorrow = today + timedelta(days=1)
    if spec == "today":
        return Period("today", today, tomorrow, tz)
    if spec == "yesterday":
        return Period("yesterday", today - timedelta(days=1), today, tz)
    if spec == "week":
        return Period("last 7 days", today - timedelta(days=6), tomorrow, tz)
    if spec == "month":
        first = today.replace(day=1)
        return Period(first.strftime("%B %Y"), first, _next_month(first), tz)
    if spec == "all":
        return Period("all time", FIRST_INSTANT.astimezone(tz).date(), tomorrow, tz)
    if m := re.fullmatch(r"(\d{1,9})h", spec):
        n = int(m.group(1))
        if not 1 <= n <= MAX_HOURS:
            raise PeriodError(f"period {text!r}: the number of hours must be between 1 and {MAX_HOURS}")
        end_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
        return hours_period(f"last {n} hour{'s' if n > 1 else ''}", end_ms - n * MS_PER_HOUR, end_ms, tz)
    if m := re.fullmatch(r"(\d{1,9})d", spec):
        n = int(m.group(1))
        if not 1 <= n <= MAX_DAYS:
            raise PeriodError(f"period {text!r}: the number of days must be between 1 and {MAX_DAYS}")
        return Period(f"last {n} days", today - timedelta(days=n - 1), tomorrow, tz)
    if m := re.fullmatch(r"(\d{4})-(\d{2})", spec):
        first = _date(text, int(m.group(1)), int(m.group(2)), 1)
        return Period(first.strftime("%B %Y"), first, _next_month(first), tz)
    if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})", spec):
        day = _iso(text, m.group(1))
        return Period(day.isoformat(), day, day + timedelta(days=1), tz)
    if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", spec):
        first, last = _iso(text, m.group(1)), _iso(text, m.group(2))
        if last < first:
            raise PeriodError(f"period {text!r}: the range ends before it starts")
        return Period(f"{first.isoformat()} to {last.isoformat()}", first, last + timedelta(days=1), tz)
    raise PeriodError(f"unknown period {text!r}; use one of: {PERIOD_HELP}")


def _next_month(first: date) -> date:
    return date(first.year + (first.month == 12), first.month % 12 + 1, 1)


def _date(text: str, year: int, month: int, day: int) -> date:
    try:
        value = date(year, month, day)
    except ValueError as exc:
        raise PeriodError(f"period {text!r}: {exc}") from exc
    if not FIRST_DAY <= value <= LAST_DAY:
        raise PeriodError(f"period {text!r}: dates lie between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}")
    return value


def _iso(text: str, value: str) -> date:
    year, month, day = (int(part) for part in value.split("-"))
    return _date(text, year, month, day)
