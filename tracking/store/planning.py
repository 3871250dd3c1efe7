"""Which rollup table answers a report, and the SQL that sums it: shared by every store.

The SQL is written once with `?` placeholders, in the subset that SQLite and PostgreSQL both read
(the PostgreSQL store turns `?` into its own placeholders). Time is counted in quarter-hour slots
(`tracking.slots`); a UTC day is `slot // 96`. Reports ask for whole slots (`queries.py` sums the partial
ones from raw events), so a span of slots is split into whole UTC days (daily table) and the slots before
and after them (slot table). The fine table answers anything the coarse ones cannot (threads, users,
models, sources). A breakdown by local day or hour keys each run of one UTC offset by its own expression
(`LocalRun`): one SELECT whatever the period's length, in any timezone.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..fields import COST_SUMS, SUM_NAMES
from ..slots import SLOTS_PER_DAY, LocalRun
from .base import GROUP_COLUMNS, SPLIT, Filters

SUM_LIST = ", ".join(SUM_NAMES)
LOCAL_GROUPS = frozenset({"day", "hour"})
"""Groups keyed by local time: the caller gives their `LocalRun`s."""


def _read_sum(name: str) -> str:
    return f"sum({name} / {SPLIT}), sum({name} % {SPLIT})" if name in COST_SUMS else f"sum({name})"


_SUM_READ = ", ".join(_read_sum(name) for name in SUM_NAMES)
_ROOM, _AGENT = frozenset({"room_id"}), frozenset({"room_id", "agent"})
_OPERATION = frozenset({"room_id", "operation"})


def rollup_tables(filters: Filters, group: str | None) -> tuple[str, str | None]:
    """(slot table, daily table or None) holding every column the filters and the group need."""
    needed = set(filters)
    if group is not None and group not in LOCAL_GROUPS:
        needed.add(GROUP_COLUMNS[group])
    if "operation" in needed:
        if not needed <= _OPERATION:
            raise ValueError("a breakdown by operation can be filtered by room only")
        return "rollup_operation_slots", None
    if "room_id" in filters and needed <= _AGENT:  # room first in the key: a range seek per room
        level = "agent"
    elif needed <= _ROOM:
        level = "room"
    elif needed <= _AGENT:
        level = "agent"
    else:
        return "rollup_slots", None
    return f"rollup_{level}_slots", f"rollup_{level}_daily"


def where_clause(time_col: str, start: int, end: int, filters: Filters) -> tuple[str, list]:
    """``start <= time_col < end`` and the filters (a value, or a tuple of accepted values), with parameters."""
    clauses = [f"{time_col} >= ?", f"{time_col} < ?"]
    params: list = [start, end]
    for column, value in filters.items():
        if isinstance(value, tuple):
            clauses.append(f"{column} IN ({', '.join('?' for _ in value)})")
            params.extend(value)
        else:
            clauses.append(f"{column} = ?")
            params.append(value)
    return " AND ".join(clauses), params


def _pieces(table: str, daily: str | None, start: int, end: int, on_slots: str, on_days: str | None
            ) -> list[tuple[str, str, int, int, str]]:  # fmt: skip
    """(table, time column, first, end, key SQL) covering slots [start, end): whole UTC days from the daily
    table where it has them and the key reads on days, the slots around them from the slot table."""
    first_day, last_day = -(-start // SLOTS_PER_DAY), end // SLOTS_PER_DAY
    if daily is None or on_days is None or first_day >= last_day:
        return [(table, "slot", start, end, on_slots)]
    pieces = [(daily, "day", first_day, last_day, on_days)]
    if start < first_day * SLOTS_PER_DAY:
        pieces.insert(0, (table, "slot", start, first_day * SLOTS_PER_DAY, on_slots))
    if last_day * SLOTS_PER_DAY < end:
        pieces.append((table, "slot", last_day * SLOTS_PER_DAY, end, on_slots))
    return pieces


def rollup_query(start: int, end: int, filters: Filters, group: str | None,
                 local: Sequence[LocalRun] = ()) -> tuple[str, list]:  # fmt: skip
    """One SELECT summing slots [start, end) by group (key NULL without a group); a local group ("day",
    "hour") is keyed by `local`, runs covering [start, end)."""
    table, daily = rollup_tables(filters, group)
    if group in LOCAL_GROUPS:
        if not local:
            raise ValueError(f"a breakdown by {group} needs the local runs of its slots")
        pieces = [p for run in local for p in _pieces(table, daily, run.start, run.end, run.slot_sql(), run.day_sql())]
    else:
        key = "NULL" if group is None else GROUP_COLUMNS[group]
        pieces = _pieces(table, daily, start, end, key, key)
    arms, params = [], []
    for piece_table, time_col, first, until, key in pieces:
        where, where_params = where_clause(time_col, first, until, filters)
        params.extend(where_params)
        arms.append((piece_table, where, key))
    group_by = "" if group is None else " GROUP BY k"
    if len(arms) == 1:
        piece_table, where, key = arms[0]
        return f"SELECT {key} AS k, {_SUM_READ} FROM {piece_table} WHERE {where}{group_by}", params
    inner = " UNION ALL ".join(f"SELECT {key} AS k, {SUM_LIST} FROM {t} WHERE {where}" for t, where, key in arms)
    outer = "NULL" if group is None else "k"
    return f"SELECT {outer}, {_SUM_READ} FROM ({inner}) AS spans{group_by}", params


def events_query(start_ms: int, end_ms: int, filters: Filters, group: str | None, sums: str) -> tuple[str, list]:
    """One SELECT summing raw events with start_ms <= ts_ms < end_ms by group; `sums` is the store's own
    SQL for the sums (SQLite and PostgreSQL count booleans differently)."""
    where, params = where_clause("ts_ms", start_ms, end_ms, filters)
    if group is None:
        return f"SELECT NULL, {sums} FROM events WHERE {where}", params
    key = GROUP_COLUMNS[group]
    return f"SELECT {key}, {sums} FROM events WHERE {where} GROUP BY {key}", params
