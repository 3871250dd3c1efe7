"""Quota warnings, hard-quota refusals, spikes and digests to webhooks and PostHog (README: HTTP API)."""

from .notifier import Notifier, sign

__all__ = ["Notifier", "sign"]
