"""Rows of the small tables kept beside the usage: quotas set in rooms or for all rooms."""

from __future__ import annotations

from dataclasses import dataclass

EVERYWHERE = "*"


@dataclass(frozen=True)
class QuotaRow:
    """A quota set in a room (`place` is its id) or for every room (`place` is EVERYWHERE)."""

    place: str
    scope: str
    name: str
    window: str
    unit: str
    limit_value: str
    hard: bool
    disabled: bool
