"""What `forget` and `delete` say they would do or did, the same words in the terminal and in the chat."""

from __future__ import annotations

from matrix_usage_bot.tracking.settings import QuotaSettings
from matrix_usage_bot.tracking.store.erasure import Deletion
from matrix_usage_bot.tracking.store.forget import Erasure

from .numbers import exact_int, human_usd, priced_text


def _count(n: int, one: str) -> str:
    return f"{exact_int(n)} {one if n == 1 else one + 's'}"


THEM = ("them", "their", "they")
YOU = ("you", "your", "you")
"""How the answer speaks of the person: (object, possessive, subject)."""


def erasure_parts(e: Erasure, *, done: bool, person: tuple[str, str, str] = THEM) -> list[str]:
    """What erasing changes, one phrase per kind of thing, those with nothing to change left out."""
    them, their, they = person
    name = f"no longer name {them}" if done else f"would no longer name {them}"
    parts = [f"{_count(e.events, 'event')} {name} ({their} calls count for no user;"
             f" {_count(e.rollup_rows, 'rollup row')} moved)"]  # fmt: skip
    phrases = (
        (e.texts, "event", f"with a session or metadata naming {them} cleaned"),
        (e.quotas, "quota", f"set for {them} removed"),
        (e.quotas_set_by, "quota", f"{they} set kept without {their} name"),
        (e.reservations, "reservation", "ended"),
        (e.records, "record", f"of the bot naming {them} deleted (warnings fired, notes)"),
        (e.rejected, "rejected event", f"naming {them} deleted"),
    )
    parts += [f"{_count(n, noun)} {rest}" for n, noun, rest in phrases if n]
    return parts


def erasure_text(user_id: str, e: Erasure, *, done: bool, person: tuple[str, str, str] = THEM) -> str:
    """`user_id` as the answer names them: an id, or "you"."""
    if e == Erasure():
        return f"Nothing in the usage store names {user_id}{': nothing was changed' if done else ''}."
    head = f"Erased {user_id}" if done else f"Erasing {user_id} would change this"
    tail = "Every room's, agent's and model's totals are unchanged." if done else (
        "Every room's, agent's and model's totals would stay as they are.")  # fmt: skip
    return f"{head}: {'; '.join(erasure_parts(e, done=done, person=person))}. {tail}"


def config_mentions(settings: QuotaSettings | None, user_id: str, person: tuple[str, str, str] = THEM) -> str | None:
    """What the config file says about the person, which only whoever edits that file can take out."""
    them = person[0]
    if settings is None:
        return None
    found = []
    if user_id in settings.user_plans:
        found.append(f"quotas.user_plans puts {them} on plan {settings.user_plans[user_id]!r}")
    specs = [*settings.defaults, *settings.everywhere, *(s for plan in settings.plans.values() for s in plan)]
    if any(spec.scope == "user" and spec.name == user_id for spec in specs):
        found.append(f"a quota in quotas names {them}")
    if not found:
        return None
    return f"The config file still names {them} ({'; '.join(found)}): the bot cannot edit it; whoever runs it must."


UNREACHABLE = ("Erasure reaches this store only: files already exported, webhook receivers and PostHog keep what"
               " they were sent.")  # fmt: skip


def deletion_text(what: str, d: Deletion, *, done: bool) -> str:
    """`what`: which events, in words, e.g. "of source leaky-key in room !r:example.org"."""
    t = d.totals
    verb = "Deleted" if done else "Would delete"
    if not t.calls:
        text = f"No events {what}: nothing {'was' if done else 'would be'} deleted."
    else:
        cost = priced_text(t.cost_pusd, t.calls, t.unpriced_calls, human_usd, count=True)
        tokens = f"{exact_int(t.input_tokens)} input and {exact_int(t.output_tokens)} output tokens"
        text = f"{verb} {_count(t.calls, 'event')} {what} ({_count(len(d.rooms), 'room')}): {tokens}, {cost}."
        if done:
            text += " Every rollup now sums exactly the events that remain."
    if d.sums_only:
        text += (f" {_count(d.sums_only, 'call')} of the same quarter hours matching exist only as sums in the"
                 " rollups (their raw events are older than the retention, storage.retention_days): they cannot be"
                 " told apart from other calls, so they cannot be deleted and stay in every total.")  # fmt: skip
    return text
