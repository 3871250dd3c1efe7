"""The daily digest: yesterday's usage, by agent and by model, against the day before and the week."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from matrix_usage_bot.tracking.advice import Suggestion
from matrix_usage_bot.tracking.queries import Report
from matrix_usage_bot.tracking.quotas import QuotaStatus

from .advice import change_text
from .answers import Answer, breakdown_table, totals_line
from .numbers import exact_int, human_usd
from .quotas import used_of_limit


@dataclass
class DigestData:
    day: date
    totals: Report
    by_agent: Report
    by_model: Report
    day_before_tokens: int
    week_average_tokens: float
    quotas: Sequence[QuotaStatus]
    suggestion: Suggestion | None = None


def _change(now: float, before: float) -> str:
    if before == 0:
        return "no usage to compare" if now == 0 else "new"
    change = (now - before) / before * 100
    return f"{change:+.0f}%"


def digest_answer(data: DigestData) -> Answer:
    day = f"{data.day.day} {data.day:%B %Y}"
    sums = data.totals.totals
    if not sums.calls:
        text = f"Daily digest: no LLM usage in this room on {day}."
        if data.suggestion is not None:
            text += f"\n\n{suggestion_text(data.suggestion)}"
        return Answer(text, escape(text).replace("\n", "<br>"))
    tokens = sums.total_tokens
    headline = f"Daily digest for {day}: {totals_line(sums)}"
    change = (
        f"Tokens {_change(tokens, data.day_before_tokens)} against the day before,"
        f" {_change(tokens, data.week_average_tokens)} against the 7-day average"
        f" ({round(data.week_average_tokens):,} tokens a day)."
    )
    agent_plain, agent_html = breakdown_table(data.by_agent, limit=8)
    model_plain, model_html = breakdown_table(data.by_model, limit=8)
    quota_lines = [f"{s.quota.describe()}: {s.percent}% used ({used_of_limit(s)})" for s in data.quotas]
    plain = [headline, change, "", "By agent:", agent_plain, "", "By model:", model_plain]
    html = [
        f"<p><strong>{escape(headline)}</strong><br/>{escape(change)}</p>",
        f"<p>By agent:</p>{agent_html}<p>By model:</p>{model_html}",
    ]
    if quota_lines:
        plain += ["", "Quotas:", *quota_lines]
        html.append("<p>Quotas:</p><ul>" + "".join(f"<li>{escape(q)}</li>" for q in quota_lines) + "</ul>")
    if data.suggestion is not None:
        line = suggestion_text(data.suggestion)
        plain += ["", line]
        html.append(f"<p>{escape(line)}</p>")
    return Answer("\n".join(plain), "".join(html))


def suggestion_text(s: Suggestion) -> str:
    """'Cheaper: agent scout's 1,234 calls on gpt-4o in the last 7 days cost $41.20; on gpt-4o-mini they would
    have cost $2.47 (-94.0%, $38.73 less).'"""
    return f"Cheaper: {suggestion_sentence(s)}"


def suggestion_sentence(s: Suggestion) -> str:
    """The suggestion's figures (those of `!usage whatif` for the agent's calls on the model), in one sentence."""
    agent = f"agent {s.agent}" if s.agent else "calls without an agent"
    return (f"{agent}'s {exact_int(s.calls)} calls on {s.model} in {s.period.label} cost"
            f" {human_usd(s.cost_pusd)}; on {s.alternative} they would have cost {human_usd(s.alternative_pusd)}"
            f" ({change_text(s.cost_pusd, s.alternative_pusd)}, {human_usd(s.saving_pusd)} less).")
