"""models/cursor.py: the app's psycopg connections describe their results lazily, with psycopg's columns."""

from __future__ import annotations

import psycopg
import pytest

from models import cursor as lazy
from models import db

pytestmark = pytest.mark.postgres_only

QUERY = "SELECT 1::int AS one, 'a'::varchar(8) AS letter, now() AS at, NULL::numeric(10, 2) AS amount"


@pytest.fixture
def dbapi(pg_app):
    """A psycopg connection of the app's engine."""
    with pg_app.app_context():
        connection = db.engine.raw_connection()
        yield connection.dbapi_connection
        connection.close()


def _described(columns) -> list[tuple]:
    return [(c.name, c.type_code, c.display_size, c.internal_size, c.precision, c.scale, c.null_ok) for c in columns]


def test_the_apps_connections_use_the_lazy_cursor(dbapi):
    with dbapi.cursor() as cur:
        assert isinstance(cur, lazy.Cursor)


def test_description_is_psycopgs_columns(dbapi):
    with dbapi.cursor() as cur:
        cur.execute(QUERY)
        ours = cur.description
        eager = psycopg.Cursor.description.fget(cur)
    assert isinstance(ours, lazy.Description) and len(ours) == 4
    assert _described(ours) == _described(eager)
    assert [c.name for c in ours[1:3]] == ["letter", "at"] and ours[-1].name == "amount"


def test_columns_are_those_of_the_result_described_even_after_the_next_statement(dbapi):
    with dbapi.cursor() as cur:
        cur.execute(QUERY)
        first = cur.description
        cur.execute("SELECT 2 AS two")
        assert [c.name for c in first] == ["one", "letter", "at", "amount"]
        assert [c.name for c in cur.description] == ["two"]


@pytest.mark.parametrize(
    "statement, described", [("SET statement_timeout = 0", False), ("SELECT", True), ("SELECT 1 WHERE false", True)]
)
def test_no_description_without_a_result_set(dbapi, statement, described):
    """As psycopg: None for a command, columns (maybe none) for a query, rows or not."""
    with dbapi.cursor() as cur:
        cur.execute(statement)
        assert (cur.description is not None) is described
        assert (psycopg.Cursor.description.fget(cur) is not None) is described
