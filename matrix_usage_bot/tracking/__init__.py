"""Track LLM usage and cost per Matrix room, thread, agent and user.

Importing this package imports no LLM SDK; each hook imports its SDK when it is used.
"""

from __future__ import annotations

from typing import Any

from .context import attribute, current_attribution
from .events import UsageEvent
from .periods import Period, PeriodError, parse_period
from .pricing import PriceOverride, Pricer
from .queries import Report, usage_report
from .quotas import QuotaExceeded, QuotaStatus
from .remote_quotas import QuotaUnavailable
from .settings import ConfigError, TrackingSettings
from .store import StoreError
from .tracker import Tracker, TrackerClosed


def instrument_openai(client: Any, tracker: Tracker, enforce: bool | None = None, **options: Any) -> Any:
    """Record every call of an openai.OpenAI / AsyncOpenAI client (see tracking.hooks.openai)."""
    from .hooks.openai import instrument_openai as instrument

    return instrument(client, tracker, enforce=enforce, **options)


def instrument_anthropic(client: Any, tracker: Tracker, enforce: bool | None = None, **options: Any) -> Any:
    """Record every call of an anthropic.Anthropic / AsyncAnthropic client (see tracking.hooks.anthropic)."""
    from .hooks.anthropic import instrument_anthropic as instrument

    return instrument(client, tracker, enforce=enforce, **options)


__all__ = [
    "ConfigError",
    "Period",
    "PeriodError",
    "PriceOverride",
    "Pricer",
    "QuotaExceeded",
    "QuotaStatus",
    "QuotaUnavailable",
    "Report",
    "StoreError",
    "Tracker",
    "TrackerClosed",
    "TrackingSettings",
    "UsageEvent",
    "attribute",
    "current_attribution",
    "instrument_anthropic",
    "instrument_openai",
    "parse_period",
    "usage_report",
]
