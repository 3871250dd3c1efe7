"""The spike warning: how much, against the usual hour, the factor that changed most, and who is behind it."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from matrix_usage_bot.tracking.advice import Factor, SpikeCause
from matrix_usage_bot.tracking.store import Sums

from .answers import Answer
from .numbers import human_tokens, human_usd

_NONE = {"thread": "(no thread)", "agent": "(no agent)"}


def _value(factor: Factor, value: Decimal) -> str:
    if factor.name == "calls":
        return f"{value:,.1f}".removesuffix(".0")
    if factor.name == "tokens per call":
        return human_tokens(int(value.to_integral_value()))
    return human_usd(int((value * 1_000_000).to_integral_value()))  # pico-dollars a token: dollars a million


def _ratio(factor: Factor) -> str:
    return "new" if factor.ratio is None else f"×{factor.ratio:.1f}"


def _rate(rate: Decimal | None) -> str:
    return "none" if rate is None else f"{rate * 100:.0f}%"


def spike_text(last: Sums, usual: Sums, hours: int, cause: SpikeCause, behind: Mapping[str, str | None]) -> Answer:
    """'Usage spike: this room spent $3.10 in the last hour, 31 times its usual $0.10 at this hour. Changed most:
    tokens per call, 100k against 40k usually (×2.5); calls ×4.0, price per token ×1.2. Behind it: agent
    looper, model gpt-4o, thread $root.'"""
    usual_pusd = Decimal(usual.cost_pusd) / hours
    ratio = (f"{Decimal(last.cost_pusd) / usual_pusd:.0f} times its usual {human_usd(int(usual_pusd))} at this hour"
             if usual_pusd else "with no usage usually at this hour")  # fmt: skip
    main = cause.main
    usual_value = _value(main, main.usual) if main.usual else "none"
    unit = " a million tokens" if main.name == "price per token" else ""
    changed = f"{main.name}, {_value(main, main.now)} against {usual_value}{unit} usually ({_ratio(main)})"
    if main.name == "price per token" and (cause.hit_rate_now is not None or cause.hit_rate_usual is not None):
        changed += f", cache hit rate {_rate(cause.hit_rate_now)} against {_rate(cause.hit_rate_usual)} usually"
    others = ", ".join(f"{f.name} {_ratio(f)}" for f in cause.factors if f is not main)
    who = ", ".join(f"{dimension} {name or _NONE.get(dimension, '(none)')}" for dimension, name in behind.items())
    text = (f"Usage spike: this room spent {human_usd(last.cost_pusd)} in the last hour, {ratio}."
            f" Changed most: {changed}; {others}. Behind it: {who}.")
    return Answer.words(text)
