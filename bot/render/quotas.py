"""Quota tables and threshold warnings, worded so that nobody reads "used" as "left"."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from tracking.quotas import QuotaStatus

from .answers import Answer
from .numbers import human_tokens, human_usd
from .table import html_table, plain_table


def amount_text(status: QuotaStatus, value: int) -> str:
    if status.quota.amount.unit == "tokens":
        return human_tokens(value)
    return human_usd(value)


def used_of_limit(status: QuotaStatus) -> str:
    """'1.8M of 2M tokens' or '$45.00 of $50.00'."""
    suffix = " tokens" if status.quota.amount.unit == "tokens" else ""
    return f"{amount_text(status, status.used)} of {amount_text(status, status.limit)}{suffix}"


def resets_text(status: QuotaStatus) -> str:
    day = status.resets
    return f"{day.day} {day:%B}"


def quota_answer(statuses: Sequence[QuotaStatus], hidden_global: int = 0) -> Answer:
    """The room's quotas; ``hidden_global`` counts global quotas whose figures the asker may not see."""
    note = (
        f"{hidden_global} global quota{'s' if hidden_global > 1 else ''} across all rooms also "
        f"appl{'y' if hidden_global > 1 else 'ies'}; bot admins see {'their' if hidden_global > 1 else 'its'} use."
        if hidden_global
        else ""
    )
    if not statuses:
        text = "This room has no quotas. Room admins can add one with !usage quota set."
        text = f"{text}\n{note}" if note else text
        return Answer(text, escape(text).replace("\n", "<br>"))
    headers = ["Budget", "Used", "Limit", "Used %", "Resets", "Kind"]
    rows = [
        [
            s.quota.describe(),
            amount_text(s, s.used),
            amount_text(s, s.limit),
            f"{s.percent}%",
            resets_text(s),
            ("hard" if s.quota.hard else "soft") + (", default" if s.quota.source == "config" else ""),
        ]
        for s in statuses
    ]
    align = "lrrrll"
    return Answer(
        "Quotas of this room:\n" + plain_table(headers, rows, align) + (f"\n{note}" if note else ""),
        "<p><strong>Quotas of this room</strong></p>" + html_table(headers, rows, align)
        + (f"<p>{escape(note)}</p>" if note else ""),
    )


def warning_text(status: QuotaStatus, threshold: int) -> str:
    """'90% of this room's monthly token budget used: 1.8M of 2M tokens; resets 1 December.'"""
    return f"{threshold}% of {status.quota.describe()} used: {used_of_limit(status)}; resets {resets_text(status)}."


def warning_message(status: QuotaStatus, threshold: int, admins: Sequence[str]) -> Answer:
    """The plain text names the admins; the HTML links them as matrix.to pills."""
    text = warning_text(status, threshold)
    if status.exhausted and status.quota.hard:
        text += " Calls that count against it are refused until then."
    if not admins:
        return Answer.words(text)
    plain_names = ", ".join(admins)
    pills = ", ".join(f'<a href="https://matrix.to/#/{escape(a, quote=True)}">{escape(a)}</a>' for a in admins)
    return Answer(f"{plain_names}: {text}", f"{pills}: {escape(text)}")
