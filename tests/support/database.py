"""Looking at the test database from outside a request."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy import event

from models import db


def count(app, model) -> int:
    """The number of rows of `model` in the app's database."""
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@contextlib.contextmanager
def listening(app, hook) -> Iterator[None]:
    """`hook` (SQLAlchemy's `before_cursor_execute`) on every statement that the app's engines, its own
    and the read-only bind's, execute inside the block."""
    with app.app_context():
        engines = list(db.engines.values())
    for engine in engines:
        event.listen(engine, "before_cursor_execute", hook)
    try:
        yield
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", hook)


@contextlib.contextmanager
def counted(app) -> Iterator[list[str]]:
    """Collect the SQL statements the app's engines execute inside the block. Each engine connects
    once before: its first connection's dialect set-up is not the block's doing."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        for engine in db.engines.values():
            engine.connect().close()
    with listening(app, record):
        yield statements


def autocommit(connection: sa.Connection) -> bool:
    """Whether the driver's connection under `connection` commits each statement by itself (sqlite3
    says so by having no isolation level)."""
    raw = connection.connection.dbapi_connection
    return raw.isolation_level is None if isinstance(raw, sqlite3.Connection) else raw.autocommit
