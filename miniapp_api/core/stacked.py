"""Several reads in one round trip: their SELECTs stacked into one UNION ALL, and split again.

Each SELECT is padded with NULLs to the columns of all parts, by name, and tagged with its part's
name in `part`. The first part's pads are cast to the types of the columns they stand for: PostgreSQL
types a union's columns pair by pair from the left, so once the first branch gives every column its
type, a bare NULL anywhere later takes it (and SQLAlchemy types the result by the first branch too).
Later pads stay bare so that the statement stays short: psycopg caches its conversion of a query
only up to 4096 bytes, and converting a longer one costs every execution. A column name two parts
share is one column, of the first part's type. A request on a box where the worker and the
database share the cores spends much of a round trip switching between them, so the reads of a
page view go together (docs/performance.md, "Against the floor", 2026-12-04).

Each part's rows come back as named tuples of that part's own columns, not as SQLAlchemy rows: reading
a column of a row by attribute raises and catches an AttributeError inside SQLAlchemy before it finds
the column (about 2,000 instructions a read, a tenth of an account lookup's; a named tuple's is a slot).

No library does this (SQLAlchemy has no multi-statement result, and psycopg's pipeline mode is not
reachable through SQLAlchemy's execution), hence this small module.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import CompoundSelect, Connection, Row, Select, cast, literal_column, null, union_all
from sqlalchemy.types import TypeEngine

PART = "part"
_NAMED_TUPLE: Any = namedtuple  # a type of fields known only when the statement is built

if TYPE_CHECKING:

    class Record(tuple):
        """What a type checker sees of a part's row: a named tuple of the part's columns."""

        def __getattr__(self, name: str) -> Any: ...

else:
    Record = tuple


@dataclass(frozen=True)
class Stacked:
    """A `stacked` statement and, by part name, how a row of it becomes that part's record."""

    statement: Select | CompoundSelect
    records: Mapping[str, Callable[[Row], Record]]


def stacked(parts: Mapping[str, Select]) -> Stacked:
    """The UNION ALL of `parts` (name → SELECT, no ORDER BY or LIMIT of its own), each row tagged with
    its part's name."""
    columns: dict[str, TypeEngine] = {}
    for select in parts.values():
        for column in select.selected_columns:
            columns.setdefault(_name(column), column.type)
    branches: list[Select] = []
    for name, select in parts.items():
        own = {_name(column): column for column in select.selected_columns}
        typed = not branches
        padded = [(own[key] if key in own else _pad(kind, typed)).label(key) for key, kind in columns.items()]
        branches.append(select.with_only_columns(literal_column(f"'{name}'").label(PART), *padded))
    statement = branches[0] if len(branches) == 1 else union_all(*branches)
    return Stacked(statement, {name: _record(name, select, list(columns)) for name, select in parts.items()})


def fetched(read: Stacked, params: Mapping[str, object], connection: Connection) -> dict[str, list[Record]]:
    """The records of a `stacked` read on `connection`, by part (every part present, if empty)."""
    split: dict[str, list[Record]] = {name: [] for name in read.records}
    for row in connection.execute(read.statement, params).all():  # one fetchall, not a fetchone a row
        split[row[0]].append(read.records[row[0]](row))
    return split


def _record(part: str, select: Select, columns: list[str]) -> Callable[[Row], Record]:
    """A row of the stacked statement as a named tuple of `part`'s own columns (after `PART`); a column
    name that is no identifier, or starts with `_`, is refused here, when the statement is built."""
    own = [_name(column) for column in select.selected_columns]
    record: Any = _NAMED_TUPLE(f"{part}_record", own)
    take = itemgetter(*(1 + columns.index(key) for key in own))
    if len(own) == 1:
        return lambda row: record(take(row))
    return lambda row: record._make(take(row))


def _pad(kind: TypeEngine, typed: bool):
    return cast(null(), kind) if typed else null()


def _name(column) -> str:
    if not column.key:
        raise ValueError(f"a stacked part's column needs a name (a label): {column}")
    return column.key
