"""Dollars as the bot shows them to people, computed here apart from `bot.render.numbers`: cents, or two
significant digits under ten cents, no trailing zero past the cents, a minus sign before the dollar."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def shown_usd(usd: Decimal) -> str:
    size = abs(usd)
    if size == 0:
        return "$0.00"
    step = Decimal("0.01") if size >= Decimal("0.1") else Decimal(1).scaleb(size.adjusted() - 1)
    shown = size.quantize(step, rounding=ROUND_HALF_UP).normalize()
    exponent = shown.as_tuple().exponent
    text = f"{shown if isinstance(exponent, int) and exponent < -2 else shown.quantize(Decimal('0.01')):,f}"
    return ("-$" if usd < 0 else "$") + text


def shown_pico(pico: int) -> str:
    return shown_usd(Decimal(pico) / 10**12)
