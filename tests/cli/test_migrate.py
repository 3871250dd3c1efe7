"""`usage-bot migrate`: SQLite to PostgreSQL and back gives the same reports; a second run copies nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from matrix_usage_bot.tracking.store import Filters, QuotaRow, open_store
from matrix_usage_bot.tracking.store.tables import COPIED_TABLES
from tests.usagebot import Ran, usage_bot

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "docs" / "sample-events.jsonl"


def cli(*args: str, stdin: str | None = None) -> Ran:
    return usage_bot(*args, stdin=stdin, cwd=ROOT)


def reports(url: str) -> list[str]:
    out = []
    for by in ("agent", "model", "provider", "user", "room", "thread", "day"):
        done = cli("report", "--db", url, "--period", "all", "--by", by, "--format", "json")
        assert done.returncode == 0, done.stderr
        out.append(json.dumps(json.loads(done.stdout), sort_keys=True))
    return out


async def small_tables(url: str) -> dict[str, list[tuple]]:
    store = await open_store(url)
    try:
        return {table: await store.export_rows(table) for table in COPIED_TABLES}
    finally:
        await store.close()


async def test_sqlite_to_postgresql_and_back_gives_identical_reports_and_a_second_run_stores_nothing(tmp_path, pg_url):
    first, back = f"sqlite:///{tmp_path / 'first.db'}", f"sqlite:///{tmp_path / 'back.db'}"
    assert cli("ingest", "--db", first, stdin=SAMPLE.read_text()).returncode == 0
    store = await open_store(first)
    await store.set_quota(QuotaRow("!research:example.org", "room", "", "monthly", "tokens", "200000", True, False),
                          "@admin:example.org")  # fmt: skip
    await store.set_quota(QuotaRow("*", "user", "", "monthly", "usd", "20", False, False), None)
    assert await store.claim("warning", "room|monthly|2026-10|90", "!research:example.org")
    await store.set_room_value("!research:example.org", "digest.at", "09:00")
    await store.close()
    events = sum(1 for line in SAMPLE.read_text().splitlines() if line.strip())

    there = cli("migrate", "--from", first, "--to", pg_url)
    assert there.returncode == 0, there.stderr
    assert there.stdout.startswith(f"events: stored {events}, already there 0; new rows: quota_rules 2, claims 1,"
                                   " room_values 1")  # fmt: skip
    again = cli("migrate", "--from", first, "--to", pg_url)
    assert again.stdout.startswith(f"events: stored 0, already there {events}; new rows: quota_rules 0, claims 0,"
                                   " room_values 0")  # fmt: skip
    home = cli("migrate", "--from", pg_url, "--to", back)
    assert home.returncode == 0 and home.stdout.startswith(f"events: stored {events},"), home.stderr
    assert cli("migrate", "--from", pg_url, "--to", back).stdout.startswith(f"events: stored 0, already there {events}")

    assert reports(first) == reports(pg_url) == reports(back)
    assert json.loads(reports(first)[0])["totals"]["calls"] == events
    assert await small_tables(first) == await small_tables(pg_url) == await small_tables(back)


@pytest.mark.parametrize("bad", ["postgresql://bob:hunter2@127.0.0.1:1/usage", "mysql://x/y"])
def test_a_bad_or_unreachable_url_is_one_line_without_the_password(tmp_path, bad):
    source = f"sqlite:///{tmp_path / 'a.db'}"
    assert cli("ingest", "--db", source, stdin=SAMPLE.read_text()).returncode == 0
    done = cli("migrate", "--from", source, "--to", bad)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "hunter2" not in done.stderr, done.stderr
    assert done.stderr.startswith("usage-bot migrate: ")


async def test_rows_no_target_can_store_are_named_and_the_rest_copied(tmp_path, pg_url):
    """Found in the attack pass: the first text holding a NUL byte stopped `migrate` to PostgreSQL, copying
    nothing of its batch. Such rows (a SQLite store took them before text was checked) are refused with the
    reason every entry point gives, the others are copied, and a second run copies nothing more."""
    from matrix_usage_bot.tracking.fields import COLUMN
    from matrix_usage_bot.tracking.pricing import Pricer
    from matrix_usage_bot.tracking.rows import values_to_row
    from matrix_usage_bot.tracking.validation import clean

    source = f"sqlite:///{tmp_path / 'old.db'}"
    assert cli("ingest", "--db", source, stdin=SAMPLE.read_text()).returncode == 0
    events = sum(1 for line in SAMPLE.read_text().splitlines() if line.strip())

    def row(name: str, **text: str) -> tuple:
        event = clean({"event_id": name, "ts": "2026-10-20T10:00:00Z", "provider": "openai", "model": "gpt-4o",
                       "input_tokens": 700, "output_tokens": 90, "room_id": "!old:example.org"})
        good = values_to_row(event, Pricer(), "ingest")
        return tuple(text.get(column, value) for column, value in zip(COLUMN, good, strict=True))

    store = await open_store(source)
    try:
        await store.insert_rows([row("nul-agent", agent="scr\x00ibe"), row("fine-1"), row("x", event_id="nul\x00id"),
                                 row("nul-model", model="gpt-4o\x00"), row("fine-2")])  # fmt: skip
    finally:
        await store.close()

    done = cli("migrate", "--from", source, "--to", pg_url)
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith(f"events: stored {events + 2}, already there 0, not copied 3; new rows:")
    assert done.stderr.splitlines() == [
        "usage-bot migrate: not copied: event 'nul-agent': agent: holds a NUL character (\\x00), which PostgreSQL"
        " cannot store in text",
        "usage-bot migrate: not copied: event 'nul\\x00id': event_id: holds a NUL character (\\x00), which"
        " PostgreSQL cannot store in text",
        "usage-bot migrate: not copied: event 'nul-model': model: holds a NUL character (\\x00), which PostgreSQL"
        " cannot store in text",
    ]
    again = cli("migrate", "--from", source, "--to", pg_url)
    assert again.stdout.startswith(f"events: stored 0, already there {events + 2}, not copied 3;")
    store = await open_store(pg_url)
    try:
        report = await store.sum_events(-(2**62), 2**62, Filters(), None)
    finally:
        await store.close()
    assert report[0].calls == events + 2


async def test_small_table_rows_no_target_can_store_are_named_and_the_rest_copied(tmp_path, pg_url):
    """A quota, claim or room value whose text holds a NUL (a SQLite store took it) stopped the whole command;
    one the target refuses for another reason (text where a time belongs) too. Each is refused alone, with the
    reason events get, and named; every other row is copied, and a second run copies nothing more."""
    import sqlite3

    path = tmp_path / "old.db"
    source = f"sqlite:///{path}"
    store = await open_store(source)
    try:
        await store.set_quota(QuotaRow("!den:example.org", "room", "", "daily", "tokens", "90000", True, False),
                              "@ops:example.org")  # fmt: skip
        assert await store.claim("warning", "room|!den:example.org|daily|75", "!den:example.org")
        await store.set_room_value("!den:example.org", "digest.at", "07:45")
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO quota_rules VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     ("!den:example.org", "agent", "scr\x00ibe", "daily", "tokens", "500", 1, 0, None, 1))
        conn.execute("INSERT INTO claims VALUES (?, ?, ?, ?)",
                     ("digest", "!den:example.org|2026-04-0\x001", "!den:example.org", 2))
        conn.execute("INSERT INTO claims VALUES (?, ?, ?, ?)", ("spike", "!den:example.org|17", "!den:example.org",
                                                                "at noon"))  # fmt: skip
        conn.execute("INSERT INTO room_values VALUES (?, ?, ?, ?)", ("!den:example.org", "plan", "te\x00am", 3))

    done = cli("migrate", "--from", source, "--to", pg_url)
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("events: stored 0, already there 0; new rows: quota_rules 1 (not copied 1), claims 1"
                                  " (not copied 2), room_values 1 (not copied 1)"), done.stdout  # fmt: skip
    nul = "holds a NUL character (\\x00), which PostgreSQL cannot store in text"
    lines = done.stderr.splitlines()
    assert lines[:3] == [
        f"usage-bot migrate: not copied: quota_rules row ('!den:example.org', 'agent', 'scr\\x00ibe', 'daily',"
        f" 'tokens'): name: {nul}",
        f"usage-bot migrate: not copied: claims row ('digest', '!den:example.org|2026-04-0\\x001'): key: {nul}",
        "usage-bot migrate: not copied: claims row ('spike', '!den:example.org|17'): could not be stored: RowRefused:"
        " invalid input syntax for type bigint: \"at noon\"",
    ] and lines[3] == f"usage-bot migrate: not copied: room_values row ('!den:example.org', 'plan'): value: {nul}"
    assert len(lines) == 4
    copied = await small_tables(pg_url)
    assert [row[:3] for row in copied["quota_rules"]] == [("!den:example.org", "room", "")]
    assert [row[:2] for row in copied["claims"]] == [("warning", "room|!den:example.org|daily|75")]
    assert [row[:3] for row in copied["room_values"]] == [("!den:example.org", "digest.at", "07:45")]
    again = cli("migrate", "--from", source, "--to", pg_url)
    assert again.stdout.startswith("events: stored 0, already there 0; new rows: quota_rules 0 (not copied 1),")


async def test_a_refused_small_table_batch_on_postgresql_logs_nothing_beside_its_error(pg_url, caplog):
    """psycopg's executemany pipeline, aborted by a refused row, logged "error ignored terminating ..." of its own,
    which `usage-bot migrate` printed as a line beside the refusals it names (seen in CI)."""
    import logging

    store = await open_store(pg_url)
    try:
        rows = [("spike", f"!den:example.org|{n}", "!den:example.org", n) for n in range(2000)]
        rows.insert(1, ("spike", "!den:example.org|x", "!den:example.org", "at noon"))
        with caplog.at_level(logging.DEBUG, logger="psycopg"), pytest.raises(ValueError, match="bigint"):
            await store.import_rows("claims", rows)
        assert [r.getMessage() for r in caplog.records if r.name.startswith("psycopg")] == []
        assert await store.export_rows("claims") == []
        assert await store.import_rows("claims", rows[2:5]) == 3
    finally:
        await store.close()
