"""`flask --app wsgi interest credit --year Y` (POLICY.md R10 as pinned): the year-end balance by payment
time, nearest fen half up, years in order, closed accounts excluded, accounts in payment earning."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from models import EntryKind, Funder, InterestYear, LedgerEntry, Resident, db
from tests.support import factories

UTC = dt.timezone.utc
MARCH_2027 = dt.datetime(2027, 3, 2, 2, tzinfo=UTC)


def _beijing(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text + "+08:00")


def _entry(owner: Resident, kind: str, amount: int, funder: str, at: dt.datetime, **fields) -> None:
    db.session.add(
        LedgerEntry(resident_id=owner.id, year=at.year, kind=kind, amount_fen=amount, funder=funder, booked_at=at)
    )
    db.session.flush()


def _plain(owner):  # 120,000 fen paid in March 2027
    factories.paid_order(owner, year=2027, tier_fen=100000, subsidy_fen=20000, paid_at=MARCH_2027)


def _paid_before_midnight_credited_after(owner):
    # Paid at 23:30 on 31 December, credited on 2 January: counted in 2027 by its payment time.
    factories.paid_order(
        owner,
        tier_fen=100000,
        subsidy_fen=20000,
        paid_at=_beijing("2027-12-31T23:30:00"),
        credited_at=_beijing("2028-01-02T08:00:00"),
    )


def _paid_after_midnight(owner):
    _plain(owner)
    factories.paid_order(owner, year=2028, tier_fen=20000, subsidy_fen=7000, paid_at=_beijing("2028-01-01T00:30:00"))


def _the_issue_account(owner):  # 560,000 fen all through 2027 and 2028
    factories.paid_order(owner, year=2027, tier_fen=500000, subsidy_fen=60000, paid_at=MARCH_2027)


def _half_fen(owner):  # 100 fen × 1.5 % = 1.5 fen → 2
    factories.paid_order(owner, year=2027, tier_fen=100, subsidy_fen=0, paid_at=MARCH_2027)


def _under_half_fen(owner):  # 33 fen × 1.5 % = 0.495 fen → 0: no entry
    factories.paid_order(owner, year=2027, tier_fen=33, subsidy_fen=0, paid_at=MARCH_2027)


def _died_in_the_year(owner):
    _plain(owner)
    owner.deceased_on = dt.date(2027, 6, 1)


def _died_after_the_year(owner):
    _plain(owner)
    owner.deceased_on = dt.date(2028, 1, 1)


def _inherited(owner):  # the account was closed by its inheritance before the run
    _plain(owner)
    _entry(owner, EntryKind.INHERITANCE_PAYOUT, -120000, Funder.INHERITANCE, _beijing("2027-11-01T00:00:00"))


def _in_payment(owner):  # pensions paid from the account: the rest keeps earning
    _plain(owner)
    for month in range(4, 13):
        _entry(owner, EntryKind.BENEFIT_PAYOUT, -1000, Funder.BENEFIT, _beijing(f"2027-{month:02d}-01T00:00:00"))


CASES = [
    # (account, --year, today, interest entries (year, fen))
    (_plain, 2027, "2028-01-02", [(2027, 1800)]),
    (_paid_before_midnight_credited_after, 2027, "2028-01-03", [(2027, 1800)]),
    (_paid_after_midnight, 2027, "2028-01-02", [(2027, 1800)]),
    # The issue: crediting 2028 first gave 84.00; 2027 comes first and 2028 earns on it.
    (_the_issue_account, 2028, "2029-01-05", [(2027, 8400), (2028, 8526)]),
    (_plain, 2028, "2029-01-05", [(2027, 1800), (2028, 1827)]),  # 121,800 × 1.5 % = 1,827
    (_half_fen, 2027, "2028-01-02", [(2027, 2)]),
    (_under_half_fen, 2027, "2028-01-02", []),
    (_died_in_the_year, 2027, "2028-01-02", []),
    (_died_after_the_year, 2027, "2028-01-02", [(2027, 1800)]),
    (_inherited, 2027, "2028-01-02", []),
    (_in_payment, 2027, "2028-01-02", [(2027, 1665)]),  # 111,000 × 1.5 %
]


def _interest(app) -> list[tuple[int, int]]:
    with app.app_context():
        query = sa.select(LedgerEntry.year, LedgerEntry.amount_fen).where(LedgerEntry.kind == "interest")
        return [tuple(row) for row in db.session.execute(query.order_by(LedgerEntry.year))]


def _credit(app, *args: str) -> dict:
    result = app.test_cli_runner().invoke(args=["interest", "credit", *args])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


@pytest.mark.parametrize("account, year, today, expected", CASES, ids=[c[0].__name__.strip("_") for c in CASES])
def test_interest_per_the_pinned_rule(make_app, account, year, today, expected):
    app = make_app(APP_NOW=f"{today}T09:00:00+08:00")
    with app.app_context():
        account(factories.resident())
        factories.resident()  # an empty account earns nothing
        db.session.commit()
    summary = _credit(app, "--year", str(year))
    assert _interest(app) == expected
    assert (summary["accounts_credited"], summary["interest_fen"]) == (len(expected), sum(f for _, f in expected))


def test_a_rerun_credits_nothing_and_a_later_year_only_what_is_missing(make_app):
    app = make_app(APP_NOW="2029-01-05T09:00:00+08:00")
    with app.app_context():
        _the_issue_account(factories.resident())
        db.session.commit()
    assert _credit(app, "--year", "2027")["years"] == [2021, 2022, 2023, 2024, 2025, 2026, 2027]
    again = _credit(app, "--year", "2027")
    assert (again["years"], again["accounts_credited"]) == ([], 0)
    assert _credit(app, "--year", "2028")["years"] == [2028]
    assert _interest(app) == [(2027, 8400), (2028, 8526)]


def test_a_dry_run_prints_what_would_be_credited_and_writes_nothing(make_app):
    app = make_app(APP_NOW="2029-01-05T09:00:00+08:00")
    with app.app_context():
        _the_issue_account(factories.resident())
        db.session.commit()
    dry = _credit(app, "--year", "2028", "--dry-run")
    assert dry["dry_run"] is True and (dry["accounts_credited"], dry["interest_fen"]) == (2, 8400 + 8526)
    assert _interest(app) == []
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(InterestYear)) == 0


def test_every_batch_commits_and_a_rerun_after_a_crash_continues(make_app, monkeypatch):
    from miniapp_api.benefits import interest

    app = make_app(APP_NOW="2028-01-02T09:00:00+08:00")
    with app.app_context():
        for _ in range(3):
            _plain(factories.resident())
        db.session.commit()
    real, calls = interest.credit_batch, []

    def crash_on_the_second(ids, years):
        calls.append(ids)
        if len(calls) == 2:
            raise RuntimeError("killed")
        return real(ids, years)

    monkeypatch.setattr(interest, "credit_batch", crash_on_the_second)
    crashed = app.test_cli_runner().invoke(args=["interest", "credit", "--year", "2027", "--batch-size", "1"])
    assert crashed.exit_code != 0 and _interest(app) == [(2027, 1800)]
    monkeypatch.setattr(interest, "credit_batch", real)
    assert _credit(app, "--year", "2027", "--batch-size", "1")["accounts_credited"] == 2
    assert _interest(app) == [(2027, 1800)] * 3


def test_interest_is_refused_before_the_year_ends(make_app):
    result = make_app().test_cli_runner().invoke(args=["interest", "credit", "--year", "2027"])
    assert result.exit_code != 0 and "2027-12-31" in result.output
