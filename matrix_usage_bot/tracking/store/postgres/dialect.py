"""PostgreSQL's side of the shared SQL: placeholders, boolean sums, rollup upserts from staged rows, errors, URLs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ...fields import COST_SUMS, EVENT_COLUMNS, SUMS
from ..base import SPLIT
from ..batch import ROLLUP_KEYS, SHARD, rollup_sums
from .copying import CopyInto, copy_into


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
COPY_EVENTS = copy_into("events", EVENT_COLUMNS)
COPY_BATCH = copy_into("batch_events", EVENT_COLUMNS, like="events")
INSERT_BATCH = (
    f'INSERT INTO events ({_COLUMNS}) SELECT {_COLUMNS} FROM batch_events ORDER BY room_id COLLATE "C",'
    ' event_id COLLATE "C" ON CONFLICT (room_id, event_id) DO NOTHING RETURNING room_id, event_id'
)


def _staged(table: str) -> str:
    return f"staged_{table}"


def _stage(table: str, columns: str) -> str:
    return (f"CREATE TEMP TABLE IF NOT EXISTS {_staged(table)} ON COMMIT DELETE ROWS"
            f" AS SELECT {columns} FROM {table} WITH NO DATA")  # fmt: skip


def _upsert(table: str, key: tuple[str, ...], sums: tuple[str, ...]) -> str:
    """One statement adding a table's staged rows to its rows of one shard (the parameter). The staging
    table keeps them until the transaction ends (emptying it here, by `DELETE ... RETURNING`, cost the
    server 3 µs per event more); a transaction that stages again empties it first (`EMPTY_STAGED`). `+` on
    BIGINT raises `bigint out of range` instead of wrapping. A writer's shard is its own (`PostgresStore`),
    so no other writer waits on these rows; they go in key order all the same, which also keeps the
    inserts into the table's B-trees close together (measured: 10% faster than unordered)."""
    columns = ", ".join((*key, *sums))
    adds = ", ".join(f"{n} = {table}.{n} + excluded.{n}" for n in sums)
    keys = ", ".join(key)
    return (
        f"INSERT INTO {table} ({columns}, {SHARD}) SELECT {columns}, %s::bigint FROM {_staged(table)}"
        f" ORDER BY {keys} ON CONFLICT ({keys}, {SHARD}) DO UPDATE SET {adds}"
    )


@dataclass(frozen=True)
class RollupWrite:
    """How rollup rows reach a table: copied (COPY, psycopg's C path) into a temporary table of the session,
    then added with one upsert. Measured on 100,000 events in batches of 5,000: 32 to 35 µs of the writer's
    CPU per event passing the rows as one array per column (`unnest`), 3.5 µs with no rollup at all."""

    stage: str
    copy: CopyInto
    upsert: str


def _rollup_write(table: str, key: tuple[str, ...]) -> RollupWrite:
    columns = (*key, *rollup_sums(table))
    return RollupWrite(_stage(table, ", ".join(columns)), copy_into(_staged(table), columns, like=table),
                       _upsert(table, key, rollup_sums(table)))  # fmt: skip


ROLLUP_WRITES: dict[str, RollupWrite] = {table: _rollup_write(table, key) for table, key in ROLLUP_KEYS.items()}
SESSION_TABLES = "; ".join((BATCH_TABLE, *(write.stage for write in ROLLUP_WRITES.values())))
"""The temporary tables every connection creates once (each emptied when its transaction commits), in one
round trip (psycopg runs several statements in one call that has no parameters)."""
EMPTY_STAGED = f"TRUNCATE {', '.join(_staged(table) for table in ROLLUP_WRITES)}"


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
