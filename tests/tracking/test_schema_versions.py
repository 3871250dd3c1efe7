"""The schema of every released version, built by its steps on either backend, is pinned: a digest of the
tables, columns, constraints and indexes the database reports. The digests were taken from the literal SQL
each version shipped with (SQLite 1 to 9; PostgreSQL 7, where its stores began, to 9), checked equal to these
steps' before that SQL was removed: a change to a released step changes its digest and fails here."""

from __future__ import annotations

import logging

import pytest

from matrix_usage_bot.tracking.store.schema import LATEST, POSTGRESQL, SQLITE, statements_to, upgrade_table
from tests.oldstores import execute
from tests.schema_dump import digest, schema_of

RELEASED = {
    ("sqlite", 1): "db2fb28bdf16208f", ("sqlite", 2): "70cd8fff018097e5", ("sqlite", 3): "d388cc28afb3fccc",
    ("sqlite", 4): "503d1556693a1458", ("sqlite", 5): "584fdafed47dc80f", ("sqlite", 6): "b69131ceca22df46",
    ("sqlite", 7): "23dfdb2cee76eae6", ("sqlite", 8): "35487ffde7da4f8b", ("sqlite", 9): "286da1960b7b945e",
    ("postgresql", 7): "a674c86132cfc729", ("postgresql", 8): "e271cdcb22731023",
    ("postgresql", 9): "29b03a43fc584b57",
}  # fmt: skip


@pytest.mark.parametrize("version", range(1, 10))
def test_sqlite_versions_are_as_released(tmp_path, version):
    execute(tmp_path / "v.db", statements_to(version, SQLITE))
    assert digest(schema_of(tmp_path / "v.db")) == RELEASED[("sqlite", version)]


def test_postgresql_versions_are_as_released(pg_server):
    """PostgreSQL runs the same steps from version 1 (its stores began at 7, with what steps 1 to 7 leave)."""
    url = pg_server.new_database()
    for version in range(1, 10):
        execute(url, statements_to(version, POSTGRESQL, start=version - 1))
        if ("postgresql", version) in RELEASED:
            assert digest(schema_of(url)) == RELEASED[("postgresql", version)], version


def test_a_new_store_gets_in_one_step_what_the_steps_from_version_1_give(tmp_path, pg_server):
    (fresh,) = upgrade_table.plan(0)
    assert fresh.version == LATEST
    for dialect, (a, b) in ((SQLITE, (tmp_path / "a.db", tmp_path / "b.db")),
                            (POSTGRESQL, (pg_server.new_database(), pg_server.new_database()))):  # fmt: skip
        execute(a, fresh.statements(dialect))
        execute(b, statements_to(LATEST, dialect))
        assert schema_of(a) == schema_of(b), dialect.name


async def test_a_new_store_is_created_in_one_step_and_says_so_once(empty_store_url, caplog):
    store_url = empty_store_url  # new, not the template copy
    from matrix_usage_bot.tracking.store import open_store

    caplog.set_level(logging.INFO, logger="matrix_usage_bot.tracking.store.schema")
    store = await open_store(store_url)
    try:
        assert await store.schema_version() == LATEST
    finally:
        await store.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "matrix_usage_bot.tracking.store.schema"]
    assert len(lines) == 1 and lines[0].endswith(f"created (schema version {LATEST})"), lines
