"""core/stacked.py: several SELECTs in one statement, split again by part with their own types."""

from __future__ import annotations

import datetime as dt

import pytest

from miniapp_api.core import stacked
from models import LedgerEntry, Order, Resident, db
from tests.support import factories

PAID_AT = dt.datetime(2027, 3, 1, 2, 30, tzinfo=dt.timezone.utc)
PARTS = {
    "resident": db.select(Resident.id, Resident.birth_date, Resident.categories),
    "orders": db.select(Order.resident_id, Order.year, Order.paid_at, Order.tier_fen),
    "sums": db.select(LedgerEntry.kind, db.func.sum(LedgerEntry.amount_fen).label("amount_fen")).group_by(
        LedgerEntry.kind
    ),
    "nothing": db.select(Order.year, Order.status).where(Order.status == "no such status"),
}


@pytest.fixture
def parts(app):
    with app.app_context():
        owner = factories.resident(categories=["low_income"])
        for year in (2026, 2027):
            factories.paid_order(owner, year=year, paid_at=PAID_AT)
        db.session.commit()
        yield stacked.fetched(stacked.stacked(PARTS), {}, db.session.connection()), owner.id


def test_each_part_gets_its_own_rows_with_their_types(parts):
    rows, owner_id = parts
    [resident] = rows["resident"]
    assert (resident.id, resident.birth_date, resident.categories) == (owner_id, dt.date(1970, 5, 1), ["low_income"])
    orders = sorted((o.resident_id, o.year, o.paid_at, o.tier_fen) for o in rows["orders"])
    assert orders == [(owner_id, 2026, PAID_AT, 100000), (owner_id, 2027, PAID_AT, 100000)]
    assert all(o.paid_at.tzinfo is not None for o in rows["orders"])  # typed by the first part's cast pad
    assert sorted((s.kind, int(s.amount_fen)) for s in rows["sums"]) == [
        ("government_subsidy", 40000),
        ("personal", 200000),
    ]


def test_a_part_without_rows_is_there_empty_and_each_record_has_its_own_columns_only(parts):
    rows, _ = parts
    assert rows["nothing"] == []
    assert {name: records[0]._fields for name, records in rows.items() if records} == {
        "resident": ("id", "birth_date", "categories"),
        "orders": ("resident_id", "year", "paid_at", "tier_fen"),
        "sums": ("kind", "amount_fen"),
    }
    assert not any(hasattr(o, "birth_date") or hasattr(o, "kind") for o in rows["orders"])
    assert all(isinstance(record, tuple) for records in rows.values() for record in records)  # not SQLAlchemy rows


def test_a_part_of_one_column_is_a_record_of_that_column(app):
    with app.app_context():
        factories.resident()
        db.session.commit()
        rows = stacked.fetched(stacked.stacked({"ids": db.select(Resident.id)}), {}, db.session.connection())
    assert [record._fields for record in rows["ids"]] == [("id",)] and isinstance(rows["ids"][0].id, int)


def test_a_shared_name_is_one_column():
    statement = stacked.stacked(PARTS).statement
    names = [column.key for column in statement.selected_columns]
    assert names.count("year") == 1 and names[0] == stacked.PART
    assert len(names) == len(set(names))


def test_a_single_part_is_its_own_select_and_an_unnamed_column_is_refused():
    assert "UNION" not in str(stacked.stacked({"orders": PARTS["orders"]}).statement)
    with pytest.raises(ValueError, match="needs a name"):
        stacked.stacked({"sums": db.select(db.func.sum(LedgerEntry.amount_fen))})


def test_the_lookups_statements_fit_psycopgs_query_cache():
    """psycopg converts a query's placeholders once and caches the result only up to this many bytes; a
    longer statement is converted again on every execution (5 % of an account lookup's CPU)."""
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH
    from sqlalchemy.dialects import postgresql

    from miniapp_api.accounts import routes
    from miniapp_api.identity import access

    statements = [routes.ACCOUNT_READS, *routes.LEDGER_READS.values(), access._RESIDENT_ONLY]
    lengths = [len(str(r.statement.compile(dialect=postgresql.psycopg.dialect())).encode()) for r in statements]
    assert max(lengths) <= MAX_CACHED_STATEMENT_LENGTH, lengths


def test_only_the_first_part_pads_with_casts():
    sql = str(stacked.stacked(PARTS).statement.compile()).split("UNION ALL")
    assert "CAST(NULL AS" in sql[0] and not any("CAST(NULL AS" in branch for branch in sql[1:])
