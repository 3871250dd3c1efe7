"""Quota amounts as people write them: tokens (`200k`, `1.5m`, `5000`) or dollars (`$50`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

_SUFFIX = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000}


@dataclass(frozen=True)
class Amount:
    unit: Literal["tokens", "usd"]
    value: Decimal

    @property
    def tokens(self) -> int:
        return int(self.value)


def parse_amount(text: str) -> Amount:
    raw = text.strip().lower().replace(",", "").replace("_", "")
    if raw.startswith("$"):
        try:
            value = Decimal(raw[1:])
        except InvalidOperation:
            value = Decimal(-1)
        if not value.is_finite() or value <= 0:
            raise ValueError(f"amount {text!r}: a dollar amount looks like $50 or $12.50")
        return Amount("usd", value)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmb]?)(?:\s*tokens?)?", raw)
    if not m:
        raise ValueError(f"amount {text!r}: use tokens (200k, 1.5m, 5000) or dollars ($50)")
    value = Decimal(m.group(1)) * _SUFFIX[m.group(2)]
    if value <= 0 or value != value.to_integral_value():
        raise ValueError(f"amount {text!r}: a token amount must be a positive whole number of tokens")
    return Amount("tokens", value)
