"""Quota tables and threshold warnings, worded so that nobody reads "used" as "left"."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from matrix_usage_bot.tracking.advice import Runway, runway
from matrix_usage_bot.tracking.quotas import QuotaStatus

from .answers import Answer
from .numbers import human_tokens, human_usd, priced_text
from .table import html_table, plain_table


def amount_text(status: QuotaStatus, value: int) -> str:
    if status.quota.amount.unit == "tokens":
        return human_tokens(value)
    return human_usd(value)


def used_text(status: QuotaStatus) -> str:
    """What is used: tokens, or dollars of the priced calls ("unpriced" when the window's calls all are)."""
    if status.quota.amount.unit == "tokens":
        return human_tokens(status.used)
    return priced_text(status.used, status.calls, status.unpriced_calls, count=True)


def used_of_limit(status: QuotaStatus) -> str:
    """'1.8M of 2M tokens', '$45.00 of $50.00' or '$45.00 of $50.00; 2 unpriced calls not counted'."""
    if status.quota.amount.unit == "tokens":
        return f"{human_tokens(status.used)} of {human_tokens(status.limit)} tokens"
    n = status.unpriced_calls
    text = f"{priced_text(status.used, status.calls, n)} of {human_usd(status.limit)}"
    return text + (f"; {n} unpriced call{'s' if n != 1 else ''} not counted" if n else "")


def resets_text(status: QuotaStatus) -> str:
    when = status.resets
    return f"{when:%H:%M}" if status.quota.window == "hourly" else f"{when.day} {when:%B}"


def runway_text(found: Runway | None) -> str:
    """'runs out about 23 Nov 14:00' (an hourly quota: 'runs out about 14:37'), 'lasts the window', 'used up'."""
    if found is None:
        return ""
    if found.used_up:
        return "used up"
    if found.runs_out is None:
        return "lasts the window"
    when = found.runs_out
    return f"runs out about {when:%H:%M}" if found.status.quota.window == "hourly" else (
        f"runs out about {when.day} {when:%b %H:%M}")  # fmt: skip


def kind_text(status: QuotaStatus) -> str:
    """'hard', 'soft, default' (from the config), 'soft, plan team' (from the room's plan)."""
    quota = status.quota
    origin = {"config": ", default", "plan": f", plan {quota.plan}", "room": "", "everywhere": ""}[quota.source]
    return ("hard" if quota.hard else "soft") + origin


QUOTA_HEADERS = ["Budget", "Used", "Limit", "Used %", "Resets", "Kind"]
RUNWAY_HEADER = "At this pace"
QUOTA_ALIGN = "lrrrlll"


def quota_cells(status: QuotaStatus) -> list[str]:
    """A quota's row of the chat's quota tables and the dashboard's (QUOTA_HEADERS, then its runway)."""
    return [status.quota.describe(), used_text(status), amount_text(status, status.limit), f"{status.percent}%",
            resets_text(status), kind_text(status)]  # fmt: skip


def _table(title: str, statuses: Sequence[QuotaStatus], note: str, now: datetime | None) -> Answer:
    """With `now`, each quota's runway at the pace so far in its window."""
    headers = QUOTA_HEADERS + ([RUNWAY_HEADER] if now else [])
    rows = [quota_cells(s) + ([runway_text(runway(s, now))] if now else []) for s in statuses]
    align = QUOTA_ALIGN
    return Answer(
        f"{title}:\n" + plain_table(headers, rows, align) + (f"\n{note}" if note else ""),
        f"<p><strong>{escape(title)}</strong></p>" + html_table(headers, rows, align)
        + (f"<p>{escape(note)}</p>" if note else ""),
    )


def quota_answer(statuses: Sequence[QuotaStatus], plan: str | None = None, everywhere_count: int = 0,
                 now: datetime | None = None) -> Answer:
    """The room's quotas; quotas counted across all rooms are only counted here, their figures being
    every room's usage (they are shown in a direct chat with the bot)."""
    notes = []
    if plan:
        notes.append(f"This room is on plan {plan}.")
    if everywhere_count:
        many = everywhere_count > 1
        notes.append(
            f"{everywhere_count} quota{'s' if many else ''} counted across all rooms also appl{'y' if many else 'ies'}:"
            " ask me in a direct chat."
        )
    note = " ".join(notes)
    if not statuses:
        text = "This room has no quotas. Room admins can add one with !usage quota set."
        text = f"{text}\n{note}" if note else text
        return Answer(text, escape(text).replace("\n", "<br>"))
    return _table("Quotas of this room", statuses, note, now)


def everywhere_answer(statuses: Sequence[QuotaStatus], for_admin: bool, now: datetime | None = None) -> Answer:
    """In a direct chat: every quota counted across all rooms (bot admins), or the asker's own."""
    if not statuses:
        whose = "There are no quotas" if for_admin else "No quota"
        return Answer.words(f"{whose} counted across all rooms{'' if for_admin else ' applies to you'}.")
    return _table("Quotas across all rooms" if for_admin else "Your quotas across all rooms", statuses, "", now)


def warning_text(status: QuotaStatus, threshold: int) -> str:
    """'90% of this room's monthly token budget used: 1.8M of 2M tokens; resets 1 December.'"""
    return f"{threshold}% of {status.quota.describe()} used: {used_of_limit(status)}; resets {resets_text(status)}."


def early_warning_message(found: Runway, admins: Sequence[str]) -> Answer:
    """'At this pace this room's monthly dollar budget runs out about 23 Nov 14:00, more than a day before it
    resets on 1 December: $12.40 of $50.00 used so far.'"""
    status = found.status
    text = (f"At this pace {status.quota.describe()} {runway_text(found)}, more than a day before it resets on"
            f" {resets_text(status)}: {used_of_limit(status)} used so far.")
    return mention(Answer.words(text), admins)


def warning_message(status: QuotaStatus, threshold: int, admins: Sequence[str]) -> Answer:
    text = warning_text(status, threshold)
    if status.exhausted and status.quota.hard:
        text += " Calls that count against it are refused until then."
    return mention(Answer.words(text), admins)


def mention(message: Answer, admins: Sequence[str]) -> Answer:
    """The message addressed to the admins: the plain text names them, the HTML links them as matrix.to pills."""
    if not admins:
        return message
    plain_names = ", ".join(admins)
    pills = ", ".join(f'<a href="https://matrix.to/#/{escape(a, quote=True)}">{escape(a)}</a>' for a in admins)
    return Answer(f"{plain_names}: {message.plain}", f"{pills}: {message.html}")
