"""The declarative base and the Flask-SQLAlchemy handle every model shares."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from flask import g, has_app_context
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import DateTime, MetaData, TypeDecorator, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# The key in `flask.g` of a function giving the connection a request's session binds to, asked when the
# session first needs one (`miniapp_api.core.readonly`: a read-only view's autocommit connection).
SESSION_BIND = "session_bind"


class Session(FlaskSession):
    """Flask-SQLAlchemy's session, bound to the request's own connection where it chose one."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and has_app_context() and SESSION_BIND in g:
            bind = g.get(SESSION_BIND)()
        return super().get_bind(mapper, clause, bind, **kwargs)


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})


def dispose_engines() -> None:
    """Close the pooled connections of every engine of the app in context (its own and its binds')."""
    for engine in db.engines.values():
        engine.dispose()


# Models subclass `Model`: Flask-SQLAlchemy's `db.Model` at run time, the declarative base it is built
# on for the type checker (which cannot see through `db.Model`).
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


class UtcDateTime(TypeDecorator):
    """An aware instant stored as UTC; SQLite gives naive values back, so they are re-tagged as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value: dt.datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def dialect_insert(model):
    """An INSERT in the session database's dialect, which has `on_conflict_do_nothing/_do_update`."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def insert_skipping_conflicts(model, index_elements: list[str] | None, index_where=None):
    """`INSERT … ON CONFLICT (index) DO NOTHING` in the session database's dialect: inserting what a
    unique index already holds is a no-op instead of an error that would end the transaction."""
    return dialect_insert(model).on_conflict_do_nothing(index_elements=index_elements, index_where=index_where)


def insert_rows_skipping_conflicts(
    model, rows: list[dict], index_elements: list[str] | None, returning: tuple = (), index_where=None
):
    """Insert many rows, ON CONFLICT DO NOTHING, returning `returning` of the rows inserted. On PostgreSQL
    the rows travel as one array per column (`INSERT … SELECT FROM unnest(…)`): a handful of parameters
    whatever the row count, where a multi-row VALUES list costs the driver seconds to parse per batch."""
    if not rows:
        return []
    statement = insert_skipping_conflicts(model, index_elements, index_where)
    if db.session.get_bind().dialect.name != "postgresql":
        return list(db.session.execute(statement.returning(*returning), rows)) if returning else _plain(statement, rows)
    names = list(rows[0])
    columns = [model.__table__.c[name] for name in names]
    arrays = [
        bindparam(name, [row[name] for row in rows], type_=postgresql.ARRAY(column.type))
        for name, column in zip(names, columns, strict=True)
    ]
    source = select(func.unnest(*arrays).table_valued(*names).render_derived())
    statement = statement.from_select(names, source)
    if returning:
        return list(db.session.execute(statement.returning(*returning)))
    return _plain(statement)


def _plain(statement, rows: list[dict] | None = None) -> list:
    db.session.execute(statement, rows) if rows is not None else db.session.execute(statement)
    return []
