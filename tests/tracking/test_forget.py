"""`forget`: after it no table, report, export, `/v1/usage` or `/metrics` names the person, and every room's,
agent's and model's totals are what they were, to the token and the pico-dollar, on both backends."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import aiohttp

from matrix_usage_bot.bot.http.server import UsageServer
from matrix_usage_bot.bot.render.export import events_csv
from matrix_usage_bot.tracking.fields import SUM_NAMES
from matrix_usage_bot.tracking.periods import parse_period
from matrix_usage_bot.tracking.queries import usage_report
from matrix_usage_bot.tracking.store import Filters, open_store
from matrix_usage_bot.tracking.store.batch import ROLLUP_KEYS, rollup_sums
from tests.dbrows import rows
from tests.http.conftest import bearer, make_config
from tests.tracking.rights_world import ALICE, BOB, LOOKALIKE, build, snapshot, tables

ALICE_AS_A_WORD = re.compile(re.escape(ALICE) + r"(?![\w:-]|\.\w)")
KEPT = "event_id, ts_ms, room_id, thread_id, agent, operation, provider, model, input_tokens, output_tokens, cost_pusd"


def naming(url: str) -> list[tuple[str, tuple]]:
    """Every row of every table holding Alice's id (her lookalike's does not count)."""
    return [(t, r) for t, found in snapshot(url).items() for r in found
            if any(isinstance(v, str) and ALICE_AS_A_WORD.search(v) for v in r)]  # fmt: skip


def totals_without_users(url: str) -> dict[str, list[tuple]]:
    """Each rollup table summed by its key without the user: what forgetting must keep."""
    out = {}
    for table, key in ROLLUP_KEYS.items():
        kept = ", ".join(k for k in key if k != "user_id")
        sums = ", ".join(f"sum({s})" for s in rollup_sums(table))
        out[table] = rows(url, f"SELECT {kept}, {sums} FROM {table} GROUP BY {kept} ORDER BY {kept}")
    return out


async def reports(url: str) -> dict[str, list[tuple]]:
    store = await open_store(url)
    try:
        period = parse_period("all", ZoneInfo("UTC"))
        out = {}
        for group in ("room", "agent", "model", "user", "source", None):
            report = await usage_report(store, period, group=group)
            out[str(group)] = [(r.key, *(getattr(r, n) for n in SUM_NAMES)) for r in [*report.rows, report.totals]]
        export = await events_csv(store.iter_events(0, 2**53, Filters()), ZoneInfo("UTC"))
        out["export"] = [(export.data.decode(),)]
    finally:
        await store.close()
    return out


async def over_http(url: str) -> str:
    server = await UsageServer(make_config(url, http={"metrics": {"labels": ["room", "agent"]}})).start()
    try:
        async with aiohttp.ClientSession() as client:
            texts = []
            for path in ("/metrics", "/v1/usage?period=all&by=user", "/v1/usage?period=all&by=room&user=" + ALICE):
                async with client.get(f"http://127.0.0.1:{server.port}{path}", headers=bearer("admin")) as answer:
                    assert answer.status == 200
                    texts.append(await answer.text())
    finally:
        await server.close()
    return "\n".join(texts)


async def test_forget_erases_the_person_everywhere_and_keeps_every_total(store_url):
    await build(store_url)
    before, totals, report = snapshot(store_url), totals_without_users(store_url), await reports(store_url)
    kept_columns = rows(store_url, f"SELECT {KEPT} FROM events ORDER BY room_id, event_id")
    users_before = rows(store_url, "SELECT room_id, event_id, user_id FROM events ORDER BY 1, 2")
    theirs = sum(1 for r in users_before if r[2] == ALICE)
    texts = rows(store_url, f"SELECT count(*) FROM events WHERE session_id = '{ALICE}'"
                            f" OR metadata LIKE '%\"{ALICE}\"%'")[0][0]  # fmt: skip
    their_rollups = rows(store_url, f"SELECT count(*), sum(calls) FROM rollup_slots WHERE user_id = '{ALICE}'")[0]
    assert theirs and texts and their_rollups[1] > theirs  # some of her calls exist only as sums (retention)
    assert ALICE_AS_A_WORD.search(await over_http(store_url)) and naming(store_url)

    store = await open_store(store_url)
    try:
        preview = await store.preview_forget(ALICE)
        assert snapshot(store_url) == before  # a dry run changes nothing
        done = await store.forget_user(ALICE)
    finally:
        await store.close()

    assert done == preview
    assert (done.events, done.texts, done.rollup_rows) == (theirs, texts, their_rollups[0])
    assert (done.quotas, done.quotas_set_by, done.reservations, done.records, done.rejected) == (3, 1, 1, 3, 1)
    assert naming(store_url) == []
    assert not ALICE_AS_A_WORD.search(await over_http(store_url))
    assert totals_without_users(store_url) == totals
    after = await reports(store_url)
    for group in ("room", "agent", "model", "source", "None"):
        assert after[group] == report[group], group
    assert not ALICE_AS_A_WORD.search(after["export"][0][0]) and LOOKALIKE in after["export"][0][0]
    users, old = ({r[0]: r[1:] for r in rep["user"][:-1]} for rep in (after, report))  # the last row: totals
    assert ALICE not in users and users[LOOKALIKE] == old[LOOKALIKE] and users[BOB] == old[BOB]
    assert users[None] == tuple(a + b for a, b in zip(old[None], old[ALICE], strict=True))  # None: nobody
    assert rows(store_url, f"SELECT {KEPT} FROM events ORDER BY room_id, event_id") == kept_columns
    assert rows(store_url, "SELECT room_id, event_id, user_id FROM events ORDER BY 1, 2") == [
        (room, event, "" if user == ALICE else user) for room, event, user in users_before]
    assert rows(store_url, f"SELECT count(*) FROM quota_rules WHERE name = '{LOOKALIKE}'") == [(1,)]
    assert rows(store_url, "SELECT count(*) FROM claims") == [(2,)]
    assert tables(store_url) == sorted(before)
