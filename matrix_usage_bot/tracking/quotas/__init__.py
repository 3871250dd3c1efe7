"""Quotas: budgets of tokens or dollars per room, agent, user or globally, counted in one room or in all.

Windows are the current clock hour, calendar day or calendar month in the configured timezone.
Usage counts what the store holds when the check runs.
"""

from .book import QuotaBook, applies, quota_status, window_period
from .model import Quota, QuotaExceeded, QuotaStatus, Scope, Window, resets_words
from .rules import QuotaRules, layered

__all__ = [
    "Quota",
    "QuotaBook",
    "QuotaExceeded",
    "QuotaRules",
    "QuotaStatus",
    "Scope",
    "Window",
    "applies",
    "layered",
    "quota_status",
    "resets_words",
    "window_period",
]
