"""The Matrix side of matrix-usage-bot. ``from bot import UsagePlugin`` embeds it in another nio bot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .plugin import UsagePlugin

__all__ = ["UsagePlugin"]


def __getattr__(name: str) -> Any:
    # loaded on first use, so `usage-bot report` and friends do not import nio and the scheduler
    if name == "UsagePlugin":
        from .plugin import UsagePlugin

        return UsagePlugin
    raise AttributeError(f"module 'bot' has no attribute {name!r}")
