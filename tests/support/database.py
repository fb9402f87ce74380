"""Looking at the test database from outside a request."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy import event

from models import db


def count(app, model) -> int:
    """The number of rows of `model` in the app's database."""
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@contextlib.contextmanager
def counted(app) -> Iterator[list[str]]:
    """Collect the SQL statements the app's engine executes inside the block."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
