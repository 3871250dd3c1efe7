"""Numbers for people: 1.2M tokens, $3.47; and exact figures for tables and files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from matrix_usage_bot.tracking.pricing import pico_to_usd


def human_tokens(n: int) -> str:
    for size, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if abs(n) >= size:
            value = Decimal(n) / size
            text = f"{value.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):f}".removesuffix(".0")
            return f"{text}{suffix}"
    return str(n)


def human_usd(pico: int) -> str:
    """The one way a dollar amount is shown to people (tables, chat, digests, charts, the terminal): the
    currency, thousands separators, cents, and for amounts under ten cents two significant digits, so a
    sub-cent cost is seen rather than rounded to $0.00: $1,750.06, $0.20, $0.017, $0.01, $0.0000042, -$3.10.
    Files for machines (CSV, JSON) keep the exact figure (`exact_usd`)."""
    usd = pico_to_usd(abs(pico))
    if usd == 0:
        return "$0.00"
    places = max(2, 1 - usd.adjusted())
    text = f"{usd.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):,f}"
    whole, _, fraction = text.partition(".")
    return ("-$" if pico < 0 else "$") + f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


def about_usd(pico: int) -> str:
    """A rough dollar figure for an estimate: whole dollars from $10 ("$41"), else as `human_usd`."""
    usd = pico_to_usd(pico)
    if usd >= 10:
        return f"${usd.quantize(Decimal('1'), rounding=ROUND_HALF_UP):,f}"
    return human_usd(pico)


def exact_usd(pico: int) -> str:
    """The full-precision dollar figure, e.g. 0.00575."""
    return f"{pico_to_usd(pico):f}"


def exact_int(n: int) -> str:
    return f"{n:,}"


UNPRICED = "unpriced"
"""A group's cost when none of its calls could be priced: never shown as $0 (docs/events.md)."""


def priced_text(pico: int, calls: int, unpriced: int, money: Callable[[int], str] = human_usd, *,
                count: bool = False) -> str:  # fmt: skip
    """How every table, line, chart, digest and CSV shows a group's cost: `money(pico)` (the priced calls'
    sum), or "unpriced" when every call of the group is unpriced. With `count`, a group with some unpriced
    calls says how many ("$0.42 + 2 unpriced calls"); tables and CSV say it in their unpriced column."""
    if unpriced and unpriced >= calls:
        return UNPRICED
    text = money(pico)
    if count and unpriced:
        text += f" + {exact_int(unpriced)} unpriced call{'s' if unpriced != 1 else ''}"
    return text


def cost_text(sums: Any, money: Callable[[int], str] = human_usd, name: str = "cost_pusd", *,
              count: bool = False) -> str:  # fmt: skip
    """`priced_text` of a `Sums` (its `name` cost: the whole, or its input or output part)."""
    return priced_text(getattr(sums, name), sums.calls, sums.unpriced_calls, money, count=count)


def sum_cells(sums: Any, names: Sequence[str]) -> list[str]:
    """A table row's cells for these attributes of a `Sums` (`total_tokens` too): counts exact, costs
    (`*_pusd`) as `human_usd`, or "unpriced" (`cost_text`)."""
    return [cost_text(sums, human_usd, n) if n.endswith("_pusd") else exact_int(getattr(sums, n))
            for n in names]  # fmt: skip
