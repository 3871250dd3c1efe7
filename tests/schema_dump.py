"""A store's schema as plain data (tables, columns, constraints, indexes, triggers), read from the database
itself, so two ways of building a version can be compared, and a version pinned by a digest."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path

from matrix_usage_bot.tracking.store import is_postgres, sqlite_path

_CHECK = re.compile(r"CHECK \((\w+ >= 0)\)")


def _sqlite(path: Path) -> dict:
    with sqlite3.connect(path) as conn:
        tables = {}
        for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"
                                      " AND name NOT LIKE 'sqlite_%' ORDER BY name"):  # fmt: skip
            columns = [list(r[1:6]) for r in conn.execute(f"PRAGMA table_xinfo({name})")]
            indexes = []
            for _seq, index, unique, origin, partial in conn.execute(f"PRAGMA index_list({name})"):
                keys = [r[2] for r in conn.execute(f"PRAGMA index_info({index})")]
                indexes.append([index if origin == "c" else origin, unique, keys, partial])
            (without_rowid,) = conn.execute("SELECT wr FROM pragma_table_list WHERE name = ?", (name,)).fetchone()
            tables[name] = {"columns": columns, "checks": sorted(_CHECK.findall(" ".join(sql.split()))),
                            "indexes": sorted(indexes), "without_rowid": without_rowid}  # fmt: skip
        triggers = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY 1")]
    return {"tables": tables, "triggers": triggers}


def _postgres(url: str) -> dict:
    import psycopg

    with psycopg.connect(url) as conn:
        tables = {}
        names = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                                            " ORDER BY 1")]  # fmt: skip
        for name in names:
            columns = [list(r) for r in conn.execute(
                "SELECT column_name, data_type, is_nullable, column_default, is_identity, identity_generation"
                " FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = %s"
                " ORDER BY ordinal_position", (name,))]  # fmt: skip
            constraints = sorted(list(r) for r in conn.execute(
                "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = %s::regclass", (name,)))  # fmt: skip
            indexes = sorted(r[0] for r in conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s", (name,)))
            tables[name] = {"columns": columns, "constraints": constraints, "indexes": indexes}
        triggers = [r[0] for r in conn.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1")]
    return {"tables": tables, "triggers": triggers}


def schema_of(db: str | Path) -> dict:
    """The schema of a store (a URL, or a SQLite path)."""
    if isinstance(db, str) and is_postgres(db):
        return _postgres(db)
    return _sqlite(Path(sqlite_path(db)) if isinstance(db, str) else db)


def digest(schema: dict) -> str:
    return hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()[:16]
