"""A store for the data-rights tests: varied events of a few people, keys, rooms and agents (some older than
the retention, so only their rollup sums are left), and everything else that may name a person."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

from matrix_usage_bot.tracking import UsageEvent
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.rows import values_to_row
from matrix_usage_bot.tracking.store import EVERYWHERE, QuotaRow, is_postgres, open_store
from matrix_usage_bot.tracking.store.reservations import ReservationRow
from tests.dbrows import rows

ALICE, BOB, ADMIN = "@alice:example.org", "@bob:example.org", "@admin:example.org"
LOOKALIKE = "@alice:example.org.uk"
"""Another person whose id starts with Alice's: never erased with her."""
ROOM_A, ROOM_B, ROOM_C = "!alpha:example.org", "!beta:example.org", "!gamma:example.org"
USERS = (ALICE, BOB, LOOKALIKE, "")
SOURCES = ("leaky-key", "tracker", "ingest")
AGENTS = ("scout", "writer", "critic")
MODELS = (("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5"), ("local", "llama-x"))
START = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
CUTOFF_MS = int((START + 3 * 86_400) * 1000)
"""Events before this are deleted by retention once stored: only their rollup sums stay."""
SPAN_S = 10 * 86_400


def events(count: int = 400, seed: int = 11) -> list[tuple[UsageEvent, str]]:
    """(event, source) pairs over ten days from START, the first three before the retention's cutoff."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        user = rng.choice(USERS)
        provider, model = rng.choice(MODELS)
        metadata = {"asked_for": ALICE, "n": i} if user == BOB and i % 5 == 0 else None
        event = UsageEvent(
            event_id=f"ev-{i}", ts=START + rng.randrange(SPAN_S) + rng.random(), provider=provider, model=model,
            input_tokens=rng.randrange(600, 90_000), output_tokens=rng.randrange(0, 4_000),
            cache_read_tokens=rng.choice((0, 0, 500)), reasoning_tokens=0, room_id=rng.choice((ROOM_A, ROOM_B, ROOM_C)),
            thread_id=rng.choice(("", "$t1", "$t2")), agent=rng.choice(AGENTS), user_id=user,
            session_id=ALICE if user == ALICE and i % 3 == 0 else f"s{i % 7}", metadata=metadata,
            latency_ms=rng.choice((None, 120.0, 2_400.5)), status=rng.choice(("ok",) * 9 + ("error",)),
            usage_source=rng.choice(("provider",) * 4 + ("estimated",)),
        )  # fmt: skip
        out.append((event, rng.choice(SOURCES)))
    return out


async def build(url: str, count: int = 400, *, retention: bool = True, writers: int = 1) -> None:
    """The store at url: the events (those before CUTOFF_MS deleted as retention would), quotas, claims, room
    values, rejected events and reservations, some naming Alice, some her lookalike or nobody. The events are
    written by `writers` stores open at once (on PostgreSQL, each adds to rollup rows of its own shard)."""
    pricer = Pricer()
    store = await open_store(url)
    others = [await open_store(url) for _ in range(writers - 1)]
    try:
        written = [values_to_row(vars(e), pricer, s) for e, s in events(count)]
        await store.insert_rows(written[::writers], rejected=[
            (1, "input_tokens: must not be negative", json.dumps({"user_id": ALICE, "input_tokens": -1})),
            (2, "input_tokens: must not be negative", json.dumps({"user_id": LOOKALIKE, "input_tokens": -1})),
        ])  # fmt: skip
        for n, other in enumerate(others, 1):
            await other.insert_rows(written[n::writers])
        if retention:
            await store.delete_events_before(CUTOFF_MS)
        for row, set_by in (
            (QuotaRow(ROOM_A, "user", ALICE, "monthly", "usd", "20", True, False), BOB),
            (QuotaRow(EVERYWHERE, "user", ALICE, "daily", "tokens", "1000", False, False), ADMIN),
            (QuotaRow(ROOM_B, "user", ALICE, "hourly", "tokens", "0", False, True), BOB),
            (QuotaRow(ROOM_B, "room", "", "monthly", "usd", "50", False, False), ALICE),
            (QuotaRow(ROOM_A, "user", LOOKALIKE, "monthly", "usd", "5", False, False), BOB),
        ):
            await store.set_quota(row, set_by)
        await store.claim("warning", f"user|{ROOM_A}|{ALICE}|monthly|usd:20|2026-03-01|90", ROOM_A)
        await store.claim("quota_refusal", json.dumps({"id": "x", "quota": {"name": ALICE}}), ROOM_A)
        await store.claim("warning", f"user|{ROOM_A}|{LOOKALIKE}|monthly|usd:5|2026-03-01|90", ROOM_A)
        await store.claim("command", "$answered-event", ROOM_A)
        await store.set_room_value(ROOM_A, "note", f"asked by {ALICE}.")
        await store.set_room_value(ROOM_A, "digest.at", "09:00")
        for rid, user in (("res-a", ALICE), ("res-b", BOB)):
            row = ReservationRow(rid, ROOM_A, "scout", user, 100, 10, 1, 2**50)
            assert await store.reserve_if(row, _yes)
    finally:
        for opened in (store, *others):
            await opened.close()


async def _yes() -> bool:
    return True


def tables(url: str) -> list[str]:
    if is_postgres(url):
        found = rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    else:
        found = rows(url, "SELECT name FROM sqlite_master WHERE type = 'table'")
    return sorted(str(r[0]) for r in found)


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Every row of every table (`seq` and `id` columns included), sorted."""
    return {t: sorted(rows(url, f"SELECT * FROM {t}"), key=repr) for t in tables(url)}
