"""The bot's state kept in the usage store: claims once, survives reopening, takes over older layouts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from matrix_usage_bot.bot.state import LEGACY_FILENAME, BotState, DigestSetting
from matrix_usage_bot.tracking.store import open_store
from matrix_usage_bot.tracking.store.schema import LATEST
from tests.oldstores import build


def url(path: Path) -> str:
    return f"sqlite:///{path}"


async def test_state_claims_once_and_survives_reopen(store_url):
    store = await open_store(store_url)
    state = await BotState.load(store)
    assert await state.claim_command("$a", "!r") and not await state.claim_command("$a", "!r")
    await state.record_join("!r", 100)
    await state.record_join("!r", 50)
    await state.note_upgrade("!old", "!new")
    await state.set_digest("!r", True, "08:30")
    assert await state.claim_digest("!r", "2026-11-24") and not await state.claim_digest("!r", "2026-11-24")
    assert await state.claim_warning("room|!r|room|daily|tokens", "2026-11-24", 75, "!r")
    await store.close()

    store = await open_store(store_url)
    state = await BotState.load(store)
    assert not await state.claim_command("$a", "!r")
    assert state.joined_ts("!r") == 100 and state.joined_ts("!other") is None
    assert state.pending_upgrades_to("!new") == ["!old"]
    assert state.predecessors("!new") == []  # a tombstone alone links nothing
    assert await state.finish_upgrade("!old") and not await state.finish_upgrade("!old")
    assert state.pending_upgrades_to("!new") == []
    assert state.predecessors("!new") == ["!old"]
    assert await state.digest_settings() == {"!r": DigestSetting(True, "08:30")}
    assert not await state.claim_digest("!r", "2026-11-24") and await state.claim_digest("!r", "2026-11-25")
    assert not await state.claim_warning("room|!r|room|daily|tokens", "2026-11-24", 75, "!r")
    await state.release_warning("room|!r|room|daily|tokens", "2026-11-24", 75)
    assert await state.claim_warning("room|!r|room|daily|tokens", "2026-11-24", 75, "!r")
    await store.close()


async def test_a_dropped_tombstone_is_forgotten_and_lineage_follows_chains(store_url):
    store = await open_store(store_url)
    state = await BotState.load(store)
    await state.note_upgrade("!a", "!b")
    await state.note_upgrade("!b", "!c")
    await state.note_upgrade("!x", "!c")
    await state.drop_upgrade("!x", "!c")
    for old in ("!a", "!b"):
        assert await state.finish_upgrade(old)
    assert state.pending_upgrades_to("!c") == []
    assert state.predecessors("!c") == ["!b", "!a"]
    await store.close()
    state = await BotState.load(await open_store(store_url))
    assert state.predecessors("!c") == ["!b", "!a"]
    await state.store.close()


async def test_old_command_claims_are_forgotten_after_the_keep_window(store_url):
    store = await open_store(store_url)
    state = await BotState.load(store, keep_commands_ms=0)
    for i in range(1000):
        assert await state.claim_command(f"$e{i}", "!r")
    assert len(await store.claimed("command")) < 500
    await store.close()


async def test_an_upgraded_room_inherits_quotas_digest_setting_and_posted_digests(store_url):
    from matrix_usage_bot.tracking.store import QuotaRow

    store = await open_store(store_url)
    state = await BotState.load(store)
    await store.set_quota(QuotaRow("!old", "room", "", "daily", "tokens", "1000", False, False), "@a:x")
    await state.set_digest("!old", True, "07:00")
    await state.claim_digest("!old", "2026-11-24")
    await state.inherit("!old", "!new")
    assert [q.place for q in await store.quota_rows(["!new"])] == ["!new"]
    assert (await state.digest_settings())["!new"] == DigestSetting(True, "07:00")
    assert not await state.claim_digest("!new", "2026-11-24")
    await store.close()


async def test_the_state_file_of_older_versions_is_taken_over_once(tmp_path):
    legacy = tmp_path / "matrix-store"
    legacy.mkdir()
    db = sqlite3.connect(legacy / LEGACY_FILENAME)
    db.executescript(
        """
        CREATE TABLE handled_events (event_id TEXT PRIMARY KEY, room_id TEXT NOT NULL);
        CREATE TABLE room_joins (room_id TEXT PRIMARY KEY, joined_ts INTEGER NOT NULL);
        CREATE TABLE room_upgrades (old_room_id TEXT PRIMARY KEY, new_room_id TEXT NOT NULL, done INTEGER NOT NULL);
        INSERT INTO handled_events VALUES ('$answered', '!r');
        INSERT INTO room_joins VALUES ('!r', 1234);
        INSERT INTO room_upgrades VALUES ('!old', '!r', 1), ('!spoof', '!r', 0);
        """
    )
    db.commit()
    db.close()
    store = await open_store(url(tmp_path / "usage.db"))
    state = await BotState.load(store)
    await state.import_legacy(legacy)
    assert not await state.claim_command("$answered", "!r")
    assert state.joined_ts("!r") == 1234
    assert state.predecessors("!r") == ["!old"]
    assert state.pending_upgrades_to("!r") == ["!spoof"]
    assert not (legacy / LEGACY_FILENAME).exists() and (legacy / f"{LEGACY_FILENAME}.imported").exists()
    await store.close()


async def test_an_unreadable_old_state_file_is_left_alone(tmp_path, caplog):
    legacy = tmp_path / "matrix-store"
    legacy.mkdir()
    (legacy / LEGACY_FILENAME).write_bytes(b"not a database at all" * 100)
    store = await open_store(url(tmp_path / "usage.db"))
    state = await BotState.load(store)
    await state.import_legacy(legacy)
    assert "could not read the old bot state" in caplog.text
    assert (legacy / LEGACY_FILENAME).exists()
    await store.close()


async def test_migration_moves_sent_warnings_and_digest_settings(tmp_path):
    """A store written before the bookkeeping tables keeps its fired warnings and digest settings."""
    path = tmp_path / "usage.db"
    build(path, 4)  # the store as version 4 left it
    db = sqlite3.connect(path)
    db.executescript(
        """
        INSERT INTO quota_warnings VALUES ('room|!r|room|daily|tokens', '2026-11-24', 90, '!r', 5);
        INSERT INTO digests VALUES ('!r', 1, '09:15', '2026-11-24'), ('!q', 0, '10:00', NULL);
        """
    )
    db.commit()
    db.close()
    store = await open_store(url(path))
    assert await store.schema_version() == LATEST
    state = await BotState.load(store)
    assert not await state.claim_warning("room|!r|room|daily|tokens", "2026-11-24", 90, "!r")
    assert await state.claim_warning("room|!r|room|daily|tokens", "2026-11-24", 75, "!r")
    assert await state.digest_settings() == {"!r": DigestSetting(True, "09:15"), "!q": DigestSetting(False, "10:00")}
    assert not await state.claim_digest("!r", "2026-11-24") and await state.claim_digest("!q", "2026-11-24")
    await store.close()
