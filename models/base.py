"""The declarative base and the Flask-SQLAlchemy handle every model shares."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, TypeDecorator
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


db = SQLAlchemy(model_class=Base)

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


def insert_skipping_conflicts(model, index_elements: list[str], index_where=None):
    """`INSERT … ON CONFLICT (index) DO NOTHING` in the session database's dialect: inserting what a
    unique index already holds is a no-op instead of an error that would end the transaction."""
    return dialect_insert(model).on_conflict_do_nothing(index_elements=index_elements, index_where=index_where)
