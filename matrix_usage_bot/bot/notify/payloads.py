"""Quota statuses as JSON, for `GET /v1/quotas` and the notices of webhooks and PostHog."""

from __future__ import annotations

from typing import Any

from matrix_usage_bot.tracking.quotas import QuotaStatus


def quota_json(status: QuotaStatus) -> dict[str, Any]:
    quota = status.quota
    tokens = quota.amount.unit == "tokens"

    def amount(value: int) -> int | float:
        return value if tokens else float(status.amount_of(value))

    return {
        "scope": quota.scope, "name": quota.name or None, "window": quota.window, "unit": quota.amount.unit,
        "everywhere": quota.counts_everywhere, "hard": quota.hard, "source": quota.source, "plan": quota.plan,
        "limit": amount(status.limit), "used": amount(status.used), "percent": status.percent,
        "description": quota.describe(),
        "period": {"start": status.period.start.isoformat(), "end": status.period.end.isoformat()},
        "resets": status.resets.isoformat(),
    }  # fmt: skip
