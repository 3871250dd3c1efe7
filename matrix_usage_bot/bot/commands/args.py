"""Reusable argument declarations; each parser raises ValueError with a reason people can act on."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from matrix_usage_bot.tracking.periods import PERIOD_HELP, parse_period

from .registry import Arg

_UTC = ZoneInfo("UTC")


def period_text(token: str) -> str:
    """Checks the grammar only; the handler resolves the period in the configured timezone."""
    parse_period(token, _UTC)
    return token


PERIOD = Arg("period", "P", period_text, optional=True)


def choice(name: str, options: tuple[str, ...], keyword: str | None = None, optional: bool = True) -> Arg:
    def parse(token: str) -> str:
        if token.lower() not in options:
            raise ValueError(f"{token!r} is not one of {', '.join(options)}")
        return token.lower()

    return Arg(name, "|".join(options), parse, optional=optional, keyword=keyword)


__all__ = ["PERIOD", "PERIOD_HELP", "choice", "period_text"]
