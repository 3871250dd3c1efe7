"""Why an hour cost more than usual: its cost split into calls, tokens per call and price per token.

cost = calls * (tokens / calls) * (cost / tokens), so the ratio of the hour's cost to the usual hour's is the
product of the three factors' ratios, and the log of the cost ratio is exactly the sum of their logs. The
factor that changed most is the one with the largest log-ratio (the largest ratio: the one that pushed the
cost up most); ties go to the first of calls, tokens per call, price per token. The cache hit rate (cache
reads over input tokens) is given beside the price per token, which it explains: cache reads cost a tenth
of input, or less.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from ..store import Sums

FACTORS = ("calls", "tokens per call", "price per token")


@dataclass(frozen=True)
class Factor:
    name: str
    now: Decimal
    usual: Decimal
    """The usual hour's value (the compared hours' average)."""

    @property
    def ratio(self) -> Decimal | None:
        """now / usual; None when there is no usual to compare (anything is more than nothing)."""
        return self.now / self.usual if self.usual else None


@dataclass(frozen=True)
class SpikeCause:
    factors: tuple[Factor, ...]
    hit_rate_now: Decimal | None
    hit_rate_usual: Decimal | None

    @property
    def main(self) -> Factor:
        """The factor with the largest ratio (no usual: the first such); ties to the first in `FACTORS`."""
        return max(self.factors, key=lambda f: (f.ratio is None, f.ratio or 0, -FACTORS.index(f.name)))


def _per(a: int, b: int) -> Decimal:
    return Decimal(a) / b if b else Decimal(0)


def spike_cause(last: Sums, usual: Sums, hours: int) -> SpikeCause:
    """The last hour's totals against `usual`, the totals of `hours` usual hours."""
    factors = (
        Factor("calls", Decimal(last.calls), Decimal(usual.calls) / hours),
        Factor("tokens per call", _per(last.total_tokens, last.calls), _per(usual.total_tokens, usual.calls)),
        Factor("price per token", _per(last.cost_pusd, last.total_tokens), _per(usual.cost_pusd, usual.total_tokens)),
    )

    def hit_rate(s: Sums) -> Decimal | None:
        return Decimal(s.cache_read_tokens) / s.input_tokens if s.input_tokens else None

    return SpikeCause(factors, hit_rate(last), hit_rate(usual))


def behind(last: Sequence[Sums], usual: Sequence[Sums], hours: int) -> str | None:
    """The key (agent, model, thread) whose cost rose most over its usual hour; ties to the first name."""
    before: dict[object, Decimal] = {}
    for row in usual:
        before[row.key] = before.get(row.key, Decimal(0)) + Decimal(row.cost_pusd) / hours
    rises = [(Decimal(row.cost_pusd) - before.get(row.key, Decimal(0)), str(row.key or "")) for row in last]
    if not rises:
        return None
    return min(rises, key=lambda r: (-r[0], r[1]))[1]
