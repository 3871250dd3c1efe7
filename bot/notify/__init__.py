"""Quota warnings, hard-quota refusals, spikes and digests to webhooks and PostHog (SPEC section 9)."""

from .notifier import Notifier, sign

__all__ = ["Notifier", "sign"]
