"""Rows of the small tables kept beside the usage: quotas set in rooms, and digest settings."""

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


@dataclass(frozen=True)
class DigestRow:
    room_id: str
    enabled: bool
    at: str
    last_posted: str | None
