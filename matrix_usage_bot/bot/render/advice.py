"""Advice in chat: `!usage whatif` and `!usage savings` as a headline and a table.

Costs follow the house rule: a group with no priced call shows "unpriced", never $0, and one with some
unpriced calls says how many ("$0.42 + 2 unpriced calls"). Dollars are shown as everywhere (`human_usd`).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from html import escape

from matrix_usage_bot.tracking.advice import CachingRow, Savings, WhatIf, WhatIfRow

from .answers import Answer
from .numbers import exact_int, human_usd, priced_text
from .table import html_table, plain_table

Money = Callable[[int], str]


def change_text(before_pusd: int, after_pusd: int) -> str:
    """'-90.1%': after against before, to a tenth of a percent; '' when before is 0."""
    if not before_pusd:
        return ""
    return f"{Decimal(after_pusd - before_pusd) * 100 / before_pusd:+.1f}%"


def _comparable(row: WhatIfRow) -> bool:
    return not row.unpriced_calls and not row.whatif_unpriced_calls


def _then(row: WhatIfRow, money: Money = human_usd) -> str:
    return priced_text(row.cost_pusd, row.calls, row.unpriced_calls, money, count=True)


def _on(row: WhatIfRow, money: Money = human_usd) -> str:
    return priced_text(row.whatif_pusd, row.calls, row.whatif_unpriced_calls, money, count=True)


def summed_note(calls: int) -> str:
    """Said when some calls were older than the raw events' retention."""
    if not calls:
        return ""
    return (f"{exact_int(calls)} call{'s' if calls != 1 else ''} older than the raw events' retention: priced"
            " from their quarter hour's sums, at its start.")  # fmt: skip


def _answer(headline: str, headers: list[str], rows: list[list[str]], align: str, notes: list[str]) -> Answer:
    plain = [headline, plain_table(headers, rows, align), *notes]
    html = [f"<p><strong>{escape(headline)}</strong></p>", html_table(headers, rows, align),
            *(f"<p>{escape(n)}</p>" for n in notes)]  # fmt: skip
    return Answer("\n".join(plain), "".join(html))


def whatif_answer(result: WhatIf) -> Answer:
    name, label = result.target.name, result.period.label
    totals = result.totals
    if not totals.calls:
        return Answer.words(f"No calls in this room in {label} to price on {name}.")
    if not result.target.known:
        return Answer.words(f"No price is known for {name} (genai-prices or pricing.overrides): none of this"
                            f" room's {exact_int(totals.calls)} calls in {label} can be priced on it.")  # fmt: skip
    change = change_text(totals.cost_pusd, totals.whatif_pusd) if _comparable(totals) else ""
    headline = (f"This room's {exact_int(totals.calls)} calls in {label} cost {_then(totals)};"
                f" on {name} they would have cost {_on(totals)}" + (f" ({change})." if change else "."))
    headers = ["Agent", "Calls", "Cost", f"On {result.target.model}", "Change"]
    rows = [[agent_label(r.agent), exact_int(r.calls), _then(r, human_usd), _on(r, human_usd),
             change_text(r.cost_pusd, r.whatif_pusd) if _comparable(r) else ""] for r in result.rows]  # fmt: skip
    rows.append(["Total", exact_int(totals.calls), _then(totals, human_usd), _on(totals, human_usd), change])
    notes = ["Each call priced on the model with its own tokens (cache and reasoning parts kept), at its own time."]
    if totals.whatif_unpriced_calls:
        notes.append(f"{exact_int(totals.whatif_unpriced_calls)} calls cannot be priced on {name}: counted apart.")
    if note := summed_note(result.summed_calls):
        notes.append(note)
    return _answer(headline, headers, rows, "lrrrr", notes)


def agent_label(name: str | None) -> str:
    return "(none)" if not name else name


def hit_rate_text(row: CachingRow) -> str:
    rate = row.hit_rate
    return "" if rate is None else f"{rate * 100:.1f}%"


def _cached(row: CachingRow) -> bool:
    return bool(row.cache_read_tokens or row.cache_write_tokens)


def savings_headline(result: Savings) -> str:
    """What caching saved the room in the period and its cache hit rate, in one sentence (the headline of
    `!usage savings`, and the dashboard's advice)."""
    totals, label = result.totals, result.period.label
    if not totals.calls:
        return f"No calls in this room in {label}."
    if not _cached(totals):
        return (f"No call in this room used prompt caching in {label} ({exact_int(totals.calls)} calls): nothing"
                " saved, cache hit rate 0%.")  # fmt: skip
    cost = priced_text(totals.cost_pusd, totals.calls, totals.unpriced_calls, count=True)
    saved = totals.saved_pusd
    verb = f"saved this room {human_usd(saved)}" if saved >= 0 else f"cost this room {human_usd(-saved)} more"
    return (f"Prompt caching {verb} in {label}: its calls cost {cost}, without caching"
            f" {human_usd(totals.cost_pusd + saved)}; cache hit rate {hit_rate_text(totals)}.")


def savings_answer(result: Savings) -> Answer:
    totals, headline, saved = result.totals, savings_headline(result), result.totals.saved_pusd
    if not _cached(totals):
        return Answer.words(headline)
    headers = ["Agent", "Model", "Calls", "Input", "Cache read", "Cache write", "Hit rate", "Cost", "Saved"]
    rows = [_savings_cells(agent_label(r.agent), str(r.model), r) for r in result.rows]
    rows.append(_savings_cells("Total", "", totals))
    notes = ["Saved: the calls priced with cache reads and writes billed as plain input, minus their price as made"
             " (same model, same instant); the hit rate is cache reads over input tokens."]
    if saved < 0:
        notes.append("A negative saving: cache writes cost more than input, and were not read back enough.")
    if note := summed_note(result.summed_calls):
        notes.append(note)
    return _answer(headline, headers, rows, "llrrrrrrr", notes)


def _savings_cells(agent: str, model: str, r: CachingRow) -> list[str]:
    return [agent, model, exact_int(r.calls), exact_int(r.input_tokens), exact_int(r.cache_read_tokens),
            exact_int(r.cache_write_tokens), hit_rate_text(r),
            priced_text(r.cost_pusd, r.calls, r.unpriced_calls, count=True), human_usd(r.saved_pusd)]  # fmt: skip
