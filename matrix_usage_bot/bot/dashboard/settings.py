"""The `dashboard` config section (README: Dashboard): how long a link lasts, and whether to add a widget."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import Field, field_validator

from matrix_usage_bot.tracking.settings import Strict

_DURATION = re.compile(r"^(\d{1,6})\s*([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
MIN_TTL = timedelta(minutes=5)
MAX_TTL = timedelta(days=366)


def parse_duration(value: object) -> timedelta:
    """'7d', '12h', '90m' (or a timedelta) into a timedelta between MIN_TTL and MAX_TTL."""
    if isinstance(value, timedelta):
        ttl = value
    else:
        match = _DURATION.match(str(value).strip().lower())
        if match is None:
            raise ValueError(f"{value!r} is not a duration like 7d, 12h or 90m")
        ttl = timedelta(**{_UNITS[match[2]]: int(match[1])})
    if not MIN_TTL <= ttl <= MAX_TTL:
        raise ValueError("must lie between 5m and 366d")
    return ttl


class DashboardSettings(Strict):
    link_ttl: timedelta = Field(default=timedelta(days=7), description="how long a dashboard link works: 7d, 12h, 90m")
    widget: bool = Field(default=False, description="also add the dashboard to the room as a widget, where allowed")

    _ttl = field_validator("link_ttl", mode="before")(lambda cls, value: parse_duration(value))
