"""Tables declared once, written out in either dialect (SQLite or PostgreSQL).

A declaration says what a column holds (`kind`), not how a database spells it: a count or a time in
milliseconds is INTEGER in SQLite and BIGINT in PostgreSQL (which raises instead of wrapping past 64
bits), a small flag INTEGER in both, a row number SQLite's rowid or PostgreSQL's identity column. The
DDL of every version is written from these, so both backends get the same tables from one text.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

Kind = Literal["text", "count", "flag", "real", "seq"]
DialectName = Literal["sqlite", "postgresql"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = "count"
    null: bool = False
    default: str | None = None
    """A SQL literal."""
    check: bool = False
    """`CHECK (name >= 0)`."""
    unique: bool = False


@dataclass(frozen=True)
class Index:
    name: str
    table: str
    columns: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    """The PRIMARY KEY clause (a `seq` column is its own key)."""
    rowid: bool = True
    """False: SQLite keeps the rows in the key's B-tree (WITHOUT ROWID); PostgreSQL has no such choice."""
    indexes: tuple[Index, ...] = field(default=())

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def text(name: str, **options: object) -> Column:
    return Column(name, "text", **options)  # type: ignore[arg-type]


def counts(*names: str, **options: object) -> tuple[Column, ...]:
    return tuple(Column(name, "count", **options) for name in names)  # type: ignore[arg-type]


def index(table: str, name: str, *columns: str, unique: bool = False) -> Index:
    return Index(name, table, columns, unique)


@dataclass(frozen=True)
class Dialect:
    name: DialectName
    types: dict[str, str]
    seq: str
    """The row-number column's declaration after its name."""

    def column(self, column: Column) -> str:
        if column.kind == "seq":
            return f"{column.name} {self.seq}"
        parts = [column.name, self.types[column.kind]]
        if not column.null:
            parts.append("NOT NULL")
        if column.default is not None:
            parts.append(f"DEFAULT {column.default}")
        if column.check:
            parts.append(f"CHECK ({column.name} >= 0)")
        if column.unique:
            parts.append("UNIQUE")
        return " ".join(parts)

    def create(self, table: Table) -> list[str]:
        """CREATE TABLE and its indexes."""
        lines = [self.column(c) for c in table.columns]
        if table.key:
            lines.append(f"PRIMARY KEY ({', '.join(table.key)})")
        suffix = " WITHOUT ROWID" if not table.rowid and self.name == "sqlite" else ""
        return [f"CREATE TABLE {table.name} ({', '.join(lines)}){suffix}", *map(self.create_index, table.indexes)]

    def create_index(self, index: Index) -> str:
        unique = "UNIQUE " if index.unique else ""
        return f"CREATE {unique}INDEX {index.name} ON {index.table} ({', '.join(index.columns)})"

    def add_column(self, table: str, column: Column) -> str:
        return f"ALTER TABLE {table} ADD COLUMN {self.column(column)}"

    def count_if(self, condition: str) -> str:
        """The number of rows where a condition holds, in SQL both dialects read."""
        return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END)"


SQLITE = Dialect("sqlite", {"text": "TEXT", "count": "INTEGER", "flag": "INTEGER", "real": "REAL"},
                 "INTEGER PRIMARY KEY")  # fmt: skip
POSTGRESQL = Dialect("postgresql", {"text": "TEXT", "count": "BIGINT", "flag": "INTEGER", "real": "DOUBLE PRECISION"},
                     "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")  # fmt: skip
DIALECTS = {d.name: d for d in (SQLITE, POSTGRESQL)}


def with_columns(table: Table, *columns: Column) -> Table:
    """The table with more columns at its end (what ALTER TABLE ... ADD COLUMN leaves)."""
    return replace(table, columns=(*table.columns, *columns))
