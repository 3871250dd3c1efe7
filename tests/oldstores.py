"""Stores of released schema versions, as their code left them, for the tests of upgrades (either backend)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from matrix_usage_bot.tracking.store import is_postgres, sqlite_path
from matrix_usage_bot.tracking.store.schema import POSTGRESQL, SQLITE, statements_to


def execute(db: str | Path, statements: Sequence[str], rows_sql: str | None = None,
            rows: Sequence[Sequence] = ()) -> None:  # fmt: skip
    """Run statements (then `rows_sql`, a `?`-placeholder INSERT, once per row) on a store URL or SQLite path."""
    if isinstance(db, str) and is_postgres(db):
        import psycopg

        with psycopg.connect(db, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)
            if rows_sql and rows:
                conn.cursor().executemany(rows_sql.replace("?", "%s"), rows)
        return
    with sqlite3.connect(Path(sqlite_path(db)) if isinstance(db, str) else db) as conn:
        for statement in statements:
            conn.execute(statement)
        if rows_sql and rows:
            conn.executemany(rows_sql, rows)


def build(db: str | Path, version: int) -> None:
    """An empty store at `version`, built by that version's steps (PostgreSQL stores began at version 7)."""
    postgres = isinstance(db, str) and is_postgres(db)
    statements = statements_to(version, POSTGRESQL if postgres else SQLITE)
    if postgres:
        statements.append(f"INSERT INTO meta (key, value) VALUES ('schema_version', '{version}')")
    else:
        statements.append(f"PRAGMA user_version = {version}")
    execute(db, statements)
