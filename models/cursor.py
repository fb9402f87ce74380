"""psycopg's cursor with a `description` whose columns are built when first read.

SQLAlchemy reads `cursor.description` after every statement, but uses its columns only when it meets
a statement for the first time (afterwards its cached result metadata knows them). psycopg 3.3
builds a `Column` object per result column each time `description` is read (a known cost, psycopg
issue #457): 5 % of an account lookup's CPU for its 34 columns, measured in-process. This cursor answers the same
None or sequence of the same columns, built from the same result on first use. It is set on every
psycopg connection the app's engines open (`install`); SQLite is not concerned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

import psycopg
from psycopg import Column, pq
from sqlalchemy import Engine, event

_TUPLES = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.SINGLE_TUPLE, pq.ExecStatus.TUPLES_CHUNK)
_EAGER = psycopg.Cursor.description.fget  # type: ignore[attr-defined]


class Cursor(psycopg.Cursor):
    @property
    def description(self) -> Sequence[Column] | None:  # type: ignore[override]
        """As psycopg's (None unless the result has columns or tuples), its columns built on first use."""
        result = self.pgresult
        if not result or not (result.nfields or result.status in _TUPLES):
            return None
        return Description(self, result)


class _ResultOf:
    """What psycopg's `Column` reads of a cursor, with the result the description was made for: its
    columns are then that result's even if the cursor moved on to another statement before they were
    built (the encoding and adapters are the connection's, read when the columns are built)."""

    def __init__(self, cursor: psycopg.Cursor, result: pq.abc.PGresult):
        self.pgresult, self._encoding, self.adapters = result, cursor._encoding, cursor.adapters


class Description(Sequence[Column]):
    """The columns of one result, built when first asked for."""

    def __init__(self, cursor: psycopg.Cursor, result: pq.abc.PGresult):
        self._cursor, self._result = cursor, result
        self._columns: list[Column] | None = None

    def _built(self) -> list[Column]:
        if self._columns is None:
            source: Any = _ResultOf(self._cursor, self._result)
            self._columns = _EAGER(source)
        return self._columns

    @overload
    def __getitem__(self, index: int) -> Column: ...
    @overload
    def __getitem__(self, index: slice) -> list[Column]: ...
    def __getitem__(self, index):
        return self._built()[index]

    def __len__(self) -> int:
        return self._result.nfields

    def __repr__(self) -> str:
        return repr(self._built())


def install(engine: Engine) -> None:
    """Open `engine`'s psycopg connections with this cursor."""
    event.listen(engine, "connect", _use_cursor)


def _use_cursor(dbapi_connection: object, _record: object) -> None:
    if isinstance(dbapi_connection, psycopg.Connection):
        dbapi_connection.cursor_factory = Cursor
