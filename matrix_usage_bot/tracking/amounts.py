"""Quota amounts as people write them: tokens (`200k`, `1.5m`, `5000`) or dollars (`$50`).

Every amount is bounded where it enters (config, chat command, a row read back from the store), so
no quota can divide by zero, overflow a calculation, or stand for a budget nobody could mean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

_SUFFIX = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000}

MIN_USD = Decimal("0.000001")
MAX_USD = Decimal(1_000_000_000)
MIN_TOKENS = 1
MAX_TOKENS = 10**15


@dataclass(frozen=True)
class Amount:
    unit: Literal["tokens", "usd"]
    value: Decimal

    @property
    def tokens(self) -> int:
        return int(self.value)


def checked_amount(unit: str, value: Decimal) -> Amount:
    """An Amount within the bounds above; ValueError naming them otherwise."""
    if unit == "usd":
        if not value.is_finite() or not MIN_USD <= value <= MAX_USD or value != value.quantize(MIN_USD):
            raise ValueError(f"a dollar amount is between ${MIN_USD:f} and ${MAX_USD:,} (at most 6 decimals)")
        return Amount("usd", value)
    if unit == "tokens":
        if not value.is_finite() or value != value.to_integral_value() or not MIN_TOKENS <= value <= MAX_TOKENS:
            raise ValueError(f"a token amount is a whole number between {MIN_TOKENS} and {MAX_TOKENS:,}")
        return Amount("tokens", value.to_integral_value())
    raise ValueError(f"unknown quota unit {unit!r}")


def parse_amount(text: str) -> Amount:
    raw = text.strip().lower().replace(",", "").replace("_", "")
    if raw.startswith("$"):
        if not re.fullmatch(r"\d{1,40}(?:\.\d{1,40})?", raw[1:]):
            raise ValueError(f"amount {text!r}: a dollar amount looks like $50 or $12.50")
        return _checked(text, "usd", Decimal(raw[1:]))
    m = re.fullmatch(r"(\d{1,40}(?:\.\d{1,40})?)\s*([kmb]?)(?:\s*tokens?)?", raw)
    if not m:
        raise ValueError(f"amount {text!r}: use tokens (200k, 1.5m, 5000) or dollars ($50)")
    return _checked(text, "tokens", Decimal(m.group(1)) * _SUFFIX[m.group(2)])


def _checked(text: str, unit: str, value: Decimal) -> Amount:
    try:
        return checked_amount(unit, value)
    except (ValueError, InvalidOperation) as err:
        raise ValueError(f"amount {text!r}: {err}") from None
