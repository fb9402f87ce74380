"""`flask --app wsgi interest credit --year Y` (POLICY.md R10): once a year, on the year-end balance."""

import datetime as dt

import sqlalchemy as sa

from models import LedgerEntry, db
from tests.support import factories

UTC = dt.timezone.utc


def _interest(app):
    with app.app_context():
        return db.session.execute(
            sa.select(LedgerEntry.year, LedgerEntry.amount_fen)
            .where(LedgerEntry.kind == "interest")
            .order_by(LedgerEntry.id)
        ).all()


def test_interest_is_credited_once_on_the_year_end_balance(make_app):
    app = make_app(APP_NOW="2028-01-02T09:00:00+08:00")
    with app.app_context():
        owner = factories.resident()
        factories.paid_order(owner, year=2027, tier_fen=100000, subsidy_fen=20000)  # 120,000 fen
        # Booked at 00:30 Beijing on 1 January 2028: after the year end, not in 2027's balance.
        factories.paid_order(
            owner, year=2028, tier_fen=20000, subsidy_fen=7000, paid_at=dt.datetime(2027, 12, 31, 16, 30, tzinfo=UTC)
        )
        factories.resident()  # an empty account earns nothing
        db.session.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["interest", "credit", "--year", "2027"])
    assert first.exit_code == 0 and "1 accounts credited" in first.output
    assert _interest(app) == [(2027, 1800)]  # 120,000 × 1.50 %
    again = runner.invoke(args=["interest", "credit", "--year", "2027"])
    assert "0 accounts credited" in again.output and _interest(app) == [(2027, 1800)]


def test_interest_keeps_accruing_on_interest_and_rounds_down(make_app):
    app = make_app(APP_NOW="2029-01-05T09:00:00+08:00")
    with app.app_context():
        owner = factories.resident()
        factories.paid_order(owner, year=2027, tier_fen=50000, subsidy_fen=12000)  # 62,000 fen
        db.session.commit()
    runner = app.test_cli_runner()
    runner.invoke(args=["interest", "credit", "--year", "2027"])
    runner.invoke(args=["interest", "credit", "--year", "2028"])
    assert _interest(app) == [(2027, 930), (2028, 943)]  # 62,930 × 1.5 % = 943.95 → 943


def test_interest_is_refused_before_the_year_ends(make_app):
    result = make_app().test_cli_runner().invoke(args=["interest", "credit", "--year", "2027"])
    assert result.exit_code != 0 and "2027-12-31" in result.output
