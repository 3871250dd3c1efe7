"""Every released schema version, built from the one declaration of both backends, is the schema that
version's literal SQL built (SQLite 1 to 9; PostgreSQL 7, where its stores began, to 9)."""

from __future__ import annotations

import sqlite3

import pytest

from tests.schema_dump import schema_of
from tracking.store.postgres.migrations import MIGRATIONS as PG_MIGRATIONS
from tracking.store.schema import POSTGRESQL, SQLITE, statements_to
from tracking.store.sqlite.migrations import MIGRATIONS
from tracking.store.sqlite.transactions import split_statements


def sqlite_store(path, statements):
    with sqlite3.connect(path) as conn:
        for statement in statements:
            conn.execute(statement)


def pg_store(url, statements):
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


@pytest.mark.parametrize("version", range(1, 10))
def test_sqlite_version_as_released(tmp_path, version):
    literal = [s for script in MIGRATIONS[:version] for s in split_statements(script)]
    sqlite_store(tmp_path / "literal.db", literal)
    sqlite_store(tmp_path / "declared.db", statements_to(version, SQLITE))
    assert schema_of(tmp_path / "declared.db") == schema_of(tmp_path / "literal.db")


@pytest.mark.parametrize("version", [7, 8, 9])
def test_postgresql_version_as_released(pg_server, version):
    literal, declared = pg_server.new_database(), pg_server.new_database()
    pg_store(literal, [PG_MIGRATIONS[n] for n in range(7, version + 1)])
    pg_store(declared, statements_to(version, POSTGRESQL))
    assert schema_of(declared) == schema_of(literal)
