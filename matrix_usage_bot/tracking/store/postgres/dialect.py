"""PostgreSQL's side of the shared SQL: placeholders, boolean sums, rollup upserts from arrays, errors, URLs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ...fields import COST_SUMS, EVENT_COLUMNS, SUMS
from ..base import SPLIT
from ..batch import INTEGER_KEYS, ROLLUP_KEYS, SHARD, rollup_sums


def pg(sql: str, params: Sequence | None) -> str:
    """The shared dialect's `?` placeholders as psycopg's `%s` (a literal `%` doubled when parameters follow)."""
    if not params:
        return sql
    return sql.replace("%", "%%").replace("?", "%s")


def _over_events(expression: str) -> str:
    """SQLite sums booleans (`sum(status = 'error')`); PostgreSQL counts them as integers."""
    inner = expression[4:-1] if expression.startswith("sum(") else ""
    if re.search(r"\bIS\b|=|<|>", inner):
        return f"sum(({inner})::int)"
    return expression


EVENT_SUM_COLUMNS = ", ".join(
    f"sum(coalesce({s.name}, 0) / {SPLIT}), sum(coalesce({s.name}, 0) % {SPLIT})" if s.name in COST_SUMS
    else _over_events(s.over_events)
    for s in SUMS
)  # fmt: skip

_COLUMNS = ", ".join(EVENT_COLUMNS)
BATCH_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS batch_events ON COMMIT DELETE ROWS"
    f" AS SELECT {_COLUMNS} FROM events WITH NO DATA"
)
COPY_BATCH = f"COPY batch_events ({_COLUMNS}) FROM STDIN"
INSERT_BATCH = (
    f"INSERT INTO events ({_COLUMNS}) SELECT {_COLUMNS} FROM batch_events ORDER BY room_id, event_id"
    " ON CONFLICT (room_id, event_id) DO NOTHING RETURNING room_id, event_id"
)


def _upsert(table: str, key: tuple[str, ...], sums: tuple[str, ...]) -> str:
    """One statement adding a batch's sums to a table's rows of one shard (the first parameter), from one array
    per column. `+` on BIGINT raises `bigint out of range` instead of wrapping. A writer's shard is its own
    (`PostgresStore`), so no other writer waits on these rows; they go in key order all the same."""
    columns = (*key, *sums)
    arrays = ", ".join(f"%s::{'bigint' if c in INTEGER_KEYS or c in sums else 'text'}[]" for c in columns)
    adds = ", ".join(f"{n} = {table}.{n} + excluded.{n}" for n in sums)
    keys = ", ".join(key)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}, {SHARD}) SELECT u.*, %s::bigint FROM unnest({arrays})"
        f" AS u({', '.join(columns)}) ORDER BY {keys} ON CONFLICT ({keys}, {SHARD}) DO UPDATE SET {adds}"
    )


ROLLUP_UPSERTS: dict[str, str] = {table: _upsert(table, key, rollup_sums(table)) for table, key in ROLLUP_KEYS.items()}


def columns_of(rows: Sequence[tuple]) -> list[list]:
    """Rows as one list per column, for `unnest`."""
    return [list(column) for column in zip(*rows, strict=True)]


def redact(url: str) -> str:
    """The URL without its password (in the authority or as a `password=` parameter), for messages and logs."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        if ":" in user:
            user = user.split(":", 1)[0] + ":***"
        netloc = f"{user}@{host}"
    query = urlencode([(k, "***" if k == "password" else v) for k, v in parse_qsl(parts.query)], safe="/")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))
