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

No library does this (SQLAlchemy has no multi-statement result, and psycopg's pipeline mode is not
reachable through SQLAlchemy's execution), hence this small module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import CompoundSelect, Connection, Row, Select, cast, literal_column, null, union_all
from sqlalchemy.types import TypeEngine

PART = "part"
Stacked = Select | CompoundSelect


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
    return branches[0] if len(branches) == 1 else union_all(*branches)


def fetched(
    statement: Stacked, params: Mapping[str, object], names: Sequence[str], connection: Connection
) -> dict[str, list[Row]]:
    """The rows of a `stacked` statement on `connection`, by part (every one of `names` present, if empty)."""
    split: dict[str, list[Row]] = {name: [] for name in names}
    for row in connection.execute(statement, params):
        split[row._mapping[PART]].append(row)
    return split


def _pad(kind: TypeEngine, typed: bool):
    return cast(null(), kind) if typed else null()


def _name(column) -> str:
    if not column.key:
        raise ValueError(f"a stacked part's column needs a name (a label): {column}")
    return column.key
