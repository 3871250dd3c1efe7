"""Rows of the small tables kept beside the usage: quotas set in rooms."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuotaRow:
    room_id: str
    scope: str
    name: str
    window: str
    unit: str
    limit_value: str
    hard: bool
    disabled: bool

