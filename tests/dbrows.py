"""Plain SQL against a usage store of either backend, for tests that check the stored rows themselves."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from matrix_usage_bot.tracking.store import is_postgres, sqlite_path


def _plain(value: object) -> object:
    return int(value) if isinstance(value, Decimal) and value == value.to_integral_value() else value


def rows(db: str | Path, sql: str) -> list[tuple]:
    """The rows of `sql` (numbers as Python ints, whichever backend) on a store URL or a SQLite path."""
    if isinstance(db, str) and is_postgres(db):
        import psycopg

        with psycopg.connect(db) as conn:
            return [tuple(_plain(v) for v in r) for r in conn.execute(sql).fetchall()]
    path = Path(sqlite_path(db)) if isinstance(db, str) else db
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


ROLLUP_CHECK = """
SELECT room_id, ts_ms / 900000, thread_id, agent, user_id, provider, model, source, count(*), sum(input_tokens),
       sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), sum(reasoning_tokens),
       sum(coalesce(cost_pusd, 0)), sum(CASE WHEN cost_pusd IS NULL THEN 1 ELSE 0 END),
       sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END)
FROM events GROUP BY room_id, ts_ms / 900000, thread_id, agent, user_id, provider, model, source
ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
"""
ROLLUPS = """
SELECT room_id, slot, thread_id, agent, user_id, provider, model, source, sum(calls), sum(input_tokens),
       sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), sum(reasoning_tokens), sum(cost_pusd),
       sum(unpriced_calls), sum(error_calls)
FROM rollup_slots GROUP BY room_id, slot, thread_id, agent, user_id, provider, model, source
ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
"""


_OVER_EVENTS = {
    "calls": "count(*)", "cost_pusd": "sum(coalesce(cost_pusd, 0))",
    "unpriced_calls": "sum(CASE WHEN cost_pusd IS NULL THEN 1 ELSE 0 END)",
    "error_calls": "sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END)",
    "estimated_calls": "sum(CASE WHEN usage_source = 'estimated' THEN 1 ELSE 0 END)",
    "input_cost_pusd": "sum(coalesce(input_cost_pusd, 0))",
    "output_cost_pusd": "sum(coalesce(output_cost_pusd, 0))",
}  # fmt: skip
_KEY_OVER_EVENTS = {"day": "ts_ms / 86400000", "hour": "ts_ms / 3600000", "slot": "ts_ms / 900000"}


def _event_sums() -> str:
    from matrix_usage_bot.tracking.fields import SUM_NAMES

    return ", ".join(_OVER_EVENTS.get(n, f"sum({n})") for n in SUM_NAMES)


def rollup_mismatches(db: str | Path) -> dict[str, int]:
    """For each rollup table, how many of its rows (summed over writer shards) differ from a GROUP BY over the
    raw events (0 = exact)."""
    from matrix_usage_bot.tracking.fields import SUM_NAMES
    from matrix_usage_bot.tracking.store.batch import ROLLUP_KEYS, rollup_sums

    found = {}
    for table, key in ROLLUP_KEYS.items():
        sums = SUM_NAMES if rollup_sums(table) == SUM_NAMES else ("calls",)
        where = ""
        if table == "rollup_latency_daily":  # buckets are computed in Python: compare the calls they hold
            key, where = key[:-1], " WHERE latency_ms IS NOT NULL"
        expressions = ", ".join(_KEY_OVER_EVENTS.get(k, k) for k in key)
        order = ", ".join(str(i) for i in range(1, len(key) + 1))
        expected = rows(db, f"SELECT {expressions}, {', '.join(_OVER_EVENTS.get(n, f'sum({n})') for n in sums)}"
                            f" FROM events{where} GROUP BY {expressions} ORDER BY {order}")  # fmt: skip
        stored = rows(db, f"SELECT {', '.join(key)}, {', '.join(f'sum({n})' for n in sums)} FROM {table}"
                          f" GROUP BY {', '.join(key)} ORDER BY {order}")  # fmt: skip
        found[table] = len(set(expected) ^ set(stored)) + abs(len(expected) - len(stored))
    return found


def rollup_residuals(db: str | Path) -> dict[str, dict[tuple, int]]:
    """For each sum rollup table, its sums minus a GROUP BY over the raw events, by (key..., sum name), the
    zeros left out: what the rollups hold of events retention deleted (nothing, while every event is kept)."""
    from matrix_usage_bot.tracking.fields import SUM_NAMES
    from matrix_usage_bot.tracking.store.batch import ROLLUP_KEYS, SUM_TABLES

    out: dict[str, dict[tuple, int]] = {}
    for table in SUM_TABLES:
        key = ROLLUP_KEYS[table]
        expressions = ", ".join(_KEY_OVER_EVENTS.get(k, k) for k in key)
        left: dict[tuple, int] = {}
        stored = rows(db, f"SELECT {', '.join(key)}, {', '.join(f'sum({n})' for n in SUM_NAMES)} FROM {table}"
                          f" GROUP BY {', '.join(key)}")  # fmt: skip
        summed = rows(db, f"SELECT {expressions}, {_event_sums()} FROM events GROUP BY {expressions}")
        for sign, found in ((1, stored), (-1, summed)):
            for r in found:
                for name, value in zip(SUM_NAMES, r[len(key) :], strict=True):
                    at = (*r[: len(key)], name)
                    left[at] = left.get(at, 0) + sign * int(value or 0)
        out[table] = {at: value for at, value in left.items() if value}
    return out
