"""Quota statuses as JSON, exactly: what the collector answers an HTTP tracker's quota checks and
reservations with (README: HTTP API), and what the tracker turns back into the same `QuotaStatus`, so its
`QuotaExceeded` says word for word what a tracker on the store would say.

Amounts (`limit`, `used`, `reserved`, and `requested`: what a refused call would have held) are decimal
strings in the quota's unit (tokens, or dollars), never floats; the window is given whole (`period`), with
the collector's timezone.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ..amounts import checked_amount
from ..periods import Period
from ..pricing import PICO
from .model import Quota, QuotaStatus

RESERVATION_ID = re.compile(r"[0-9a-f]{32}")
"""How the collector's reservation ids look (and the only ids an event or a DELETE may name)."""


def _decimal(value: Decimal) -> str:
    return format(value, "f")


def status_json(status: QuotaStatus) -> dict[str, Any]:
    quota, period = status.quota, status.period
    return {
        "scope": quota.scope, "name": quota.name or None, "window": quota.window, "unit": quota.amount.unit,
        "limit": _decimal(quota.amount.value), "hard": quota.hard, "everywhere": quota.everywhere,
        "source": quota.source, "plan": quota.plan, "room_id": status.room_id,
        "used": _decimal(status.amount_of(status.used)), "reserved": _decimal(status.amount_of(status.reserved)),
        "requested": _decimal(status.amount_of(status.requested)),
        "calls": status.calls, "unpriced_calls": status.unpriced_calls,
        "period": {"label": period.label, "first_day": period.first_day.isoformat(),
                   "end_day": period.end_day.isoformat(), "tz": period.tz.key,
                   "bounds_ms": list(period.bounds_ms) if period.bounds_ms is not None else None,
                   "start": period.start.isoformat(), "end": period.end.isoformat()},
        "resets": status.resets.isoformat(), "description": quota.describe(),
    }  # fmt: skip


def status_from_json(data: Any) -> QuotaStatus:
    """The status `status_json` gave; ValueError when ``data`` is not one."""
    try:
        unit = data["unit"]
        period = data["period"]
        bounds = period["bounds_ms"]
        quota = Quota(data["scope"], data["window"], checked_amount(unit, Decimal(data["limit"])),
                      data["name"] or "", bool(data["hard"]), data["source"], bool(data["everywhere"]),
                      data["plan"])  # fmt: skip
        window = Period(str(period["label"]), date.fromisoformat(period["first_day"]),
                        date.fromisoformat(period["end_day"]), ZoneInfo(period["tz"]),
                        (int(bounds[0]), int(bounds[1])) if bounds is not None else None)  # fmt: skip
        return QuotaStatus(quota, data["room_id"], _raw(unit, data["used"]), window, _raw(unit, data["reserved"]),
                           _count(data["calls"]), _count(data["unpriced_calls"]),
                           _raw(unit, data.get("requested", "0")))  # an older collector sends none
    except (KeyError, TypeError, IndexError, ArithmeticError, ValueError) as exc:
        raise ValueError(f"not a quota status: {type(exc).__name__}: {exc}") from None


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"{value!r} is not a count of calls")
    return value


def _raw(unit: str, text: str) -> int:
    """An amount in the quota's unit as it is counted: tokens, or pico-dollars."""
    value = Decimal(text)
    raw = value if unit == "tokens" else value * PICO
    if not raw.is_finite() or raw != raw.to_integral_value():
        raise ValueError(f"{text!r} is not a whole amount of its unit")
    return int(raw)
