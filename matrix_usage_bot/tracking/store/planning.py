"""Which rollup tables answer a report, and the SQL that sums them: shared by every store.

The SQL is written once with `?` placeholders, in the subset that SQLite and PostgreSQL both read
(the PostgreSQL store turns `?` into its own placeholders). Time is counted in quarter-hour slots
(`tracking.slots`); a UTC hour is `slot // 4`, a UTC day `slot // 96`. A report asks for whole slots
(`queries.py` sums the partial ones from raw events), and the span is cut into tiers: the whole UTC days
inside it from a daily table, the whole hours around those from an hourly table, the quarter hours left at
its edges from the fine table (`batch.py` lists the tables). The fine table answers anything the coarser ones
cannot (threads, users, models, sources). A breakdown by local day or hour keys each run of one UTC offset
by its own expression (`LocalRun`): one SELECT whatever the period's length, in any timezone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..fields import COST_SUMS, SUM_NAMES
from ..slots import SLOTS_PER_DAY, SLOTS_PER_HOUR, LocalRun
from .base import GROUP_COLUMNS, SPLIT, Filters

SUM_LIST = ", ".join(SUM_NAMES)
LOCAL_GROUPS = frozenset({"day", "hour"})
"""Groups keyed by local time: the caller gives their `LocalRun`s."""


def _read_sum(name: str) -> str:
    return f"sum({name} / {SPLIT}), sum({name} % {SPLIT})" if name in COST_SUMS else f"sum({name})"


_SUM_READ = ", ".join(_read_sum(name) for name in SUM_NAMES)
_ROOM, _AGENT = frozenset({"room_id"}), frozenset({"room_id", "agent"})
_OPERATION = frozenset({"room_id", "operation"})
FINE = "rollup_slots"


@dataclass(frozen=True)
class Tier:
    table: str
    column: str
    """Its time column: `day`, `hour` or `slot`."""
    unit: int
    """Slots per step of that column."""

    def key_sql(self, run: LocalRun) -> str | None:
        """A local run's key over this tier's time column, None where its steps do not fall in whole keys."""
        return run.day_sql() if self.unit == SLOTS_PER_DAY else run.hour_sql() if self.unit == SLOTS_PER_HOUR \
            else run.slot_sql()  # fmt: skip


def _tiers(level: str) -> list[Tier]:
    daily, hourly = Tier(f"rollup_{level}_daily", "day", SLOTS_PER_DAY), Tier(f"rollup_{level}_hourly", "hour", 4)
    return [daily, hourly, Tier(FINE, "slot", 1)]


def rollup_tiers(filters: Filters, group: str | None) -> list[Tier]:
    """The tables, coarsest first, holding every column the filters and the group need."""
    needed = set(filters)
    if group is not None and group not in LOCAL_GROUPS:
        needed.add(GROUP_COLUMNS[group])
    if "operation" in needed:
        if not needed <= _OPERATION:
            raise ValueError("a breakdown by operation can be filtered by room only")
        return [Tier("rollup_operation_hourly", "hour", SLOTS_PER_HOUR)]
    if "room_id" in filters and needed <= _AGENT:  # room first in the key: a range seek per room
        return _tiers("agent")
    if needed <= _ROOM:
        return _tiers("room")
    if needed <= _AGENT:
        return _tiers("agent")
    return [Tier(FINE, "slot", 1)]


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


def _pieces(tiers: Sequence[Tier], start: int, end: int, key: str | LocalRun) -> list[tuple[Tier, int, int, str]]:
    """(tier, first, end, key SQL) covering slots [start, end): the whole steps of the first tier that can key
    them, the rest from the tiers after it."""
    for i, tier in enumerate(tiers):
        on_tier = key if isinstance(key, str) else tier.key_sql(key)
        if on_tier is None:
            continue
        first, last = -(-start // tier.unit), end // tier.unit
        if first >= last and i + 1 < len(tiers):
            continue
        if first >= last:
            break
        pieces = [(tier, first, last, on_tier)]
        if start < first * tier.unit:
            pieces = _pieces(tiers[i + 1 :], start, first * tier.unit, key) + pieces
        if last * tier.unit < end:
            pieces += _pieces(tiers[i + 1 :], last * tier.unit, end, key)
        return pieces
    raise ValueError(f"no rollup holds slots {start} to {end} at the grain asked")


def rollup_query(start: int, end: int, filters: Filters, group: str | None,
                 local: Sequence[LocalRun] = ()) -> tuple[str, list]:  # fmt: skip
    """One SELECT summing slots [start, end) by group (key NULL without a group); a local group ("day",
    "hour") is keyed by `local`, runs covering [start, end)."""
    tiers = rollup_tiers(filters, group)
    if group in LOCAL_GROUPS:
        if not local:
            raise ValueError(f"a breakdown by {group} needs the local runs of its slots")
        pieces = [p for run in local for p in _pieces(tiers, run.start, run.end, run)]
    else:
        pieces = _pieces(tiers, start, end, "NULL" if group is None else GROUP_COLUMNS[group])
    arms, params = [], []
    for tier, first, until, key in pieces:
        where, where_params = where_clause(tier.column, first, until, filters)
        params.extend(where_params)
        arms.append((tier.table, where, key))
    group_by = "" if group is None else " GROUP BY k"
    if len(arms) == 1:
        table, where, key = arms[0]
        return f"SELECT {key} AS k, {_SUM_READ} FROM {table} WHERE {where}{group_by}", params
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
