"""`flask --app wsgi benefits run --month YYYY-MM` (POLICY.md R11, R12): start, pay with arrears, raise,
supplements, fund payments, death, recovery and inheritance — for everyone the residents table holds."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from miniapp_api.benefits.monthly import month_start
from models import BenefitPayment, LedgerEntry, Resident, ReviewItem, WeChatUser, db
from tests.support import factories

UTC = dt.timezone.utc
BORN_1962 = dt.date(1962, 1, 15)  # 58 on 2021-01-01: 7 years required (2021–2027); 65 on 2027-01-15
SEVEN_YEARS = 7 * 120000  # tier 1,000 yuan + 200 subsidy a year
PENSION = SEVEN_YEARS // 120  # 7,000
OLD = dt.date(1950, 3, 10)  # already 65 at the scheme start: no contribution required, due from 2021-01


def _beijing(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text + "+08:00")


def _seven_years(**fields) -> Resident:
    """Paid 2021–2026 in March and 2027 on 5 January: eligible from February 2027 on 840,000 fen."""
    owner = factories.resident(birth_date=BORN_1962, receiving_basic_pension=True, **fields)
    for year in range(2021, 2027):
        factories.paid_order(owner, year=year, paid_at=_beijing(f"{year}-03-02T10:00:00"))
    factories.paid_order(owner, year=2027, paid_at=_beijing("2027-01-05T10:00:00"))
    return owner


def _old(**fields) -> Resident:
    fields.setdefault("birth_date", OLD)
    return factories.resident(receiving_basic_pension=True, **fields)


def _make(app, build) -> list[int]:
    with app.app_context():
        made = build()
        db.session.commit()
        return [row.id for row in (made if isinstance(made, list) else [made])]


def _run(app, month: str, *flags: str) -> dict:
    result = app.test_cli_runner().invoke(args=["benefits", "run", "--month", month, *flags])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines
    return json.loads(lines[0])


def _payments(app, resident_id: int | None = None) -> list[tuple]:
    """(month, account, fund, exit subsidy, supplements, total, arrears) in month order."""
    columns = [
        BenefitPayment.month,
        BenefitPayment.account_pension_fen,
        BenefitPayment.fund_pension_fen,
        BenefitPayment.exit_subsidy_fen,
        BenefitPayment.supplements_fen,
        BenefitPayment.monthly_fen,
        BenefitPayment.arrears,
    ]
    query = sa.select(*columns).order_by(BenefitPayment.resident_id, BenefitPayment.month)
    if resident_id is not None:
        query = query.where(BenefitPayment.resident_id == resident_id)
    with app.app_context():
        return [(f"{row[0]:%Y-%m}", *row[1:]) for row in db.session.execute(query)]


def _entries(app, kind: str) -> list[tuple[int, int]]:
    with app.app_context():
        query = sa.select(LedgerEntry.resident_id, LedgerEntry.amount_fen).where(LedgerEntry.kind == kind)
        return [tuple(row) for row in db.session.execute(query.order_by(LedgerEntry.id))]


def _balance(app, resident_id: int) -> int:
    with app.app_context():
        total = sa.func.coalesce(sa.func.sum(LedgerEntry.amount_fen), 0)
        return db.session.scalar(sa.select(total).where(LedgerEntry.resident_id == resident_id))


def _set(app, resident_id: int, **fields) -> None:
    """The registry feed changed the resident's facts (13a's `registry sync` writes the same columns)."""
    with app.app_context():
        row = db.session.get(Resident, resident_id)
        for name, value in fields.items():
            setattr(row, name, value)
        db.session.commit()


# Start, pay, arrears


def test_the_pension_is_fixed_on_the_balance_at_the_first_month(make_app):
    app = make_app(APP_NOW="2027-02-02T09:00:00+08:00")
    [rid] = _make(app, _seven_years)
    summary = _run(app, "2027-02")
    assert (summary["started"], summary["months_paid"], summary["arrears_months"]) == (1, 1, 0)
    assert summary["benefits_fen"] == PENSION + 2000 and summary["account_pension_fen"] == PENSION
    assert _payments(app) == [("2027-02", PENSION, 0, 2000, 0, PENSION + 2000, False)]
    with app.app_context():
        owner = db.session.get(Resident, rid)
        assert (owner.benefit_started_on, owner.benefit_account_pension_fen) == (dt.date(2027, 2, 1), PENSION)
        assert owner.benefit_started_at == month_start(dt.date(2027, 2, 1))
    assert _entries(app, "benefit_payout") == [(rid, -PENSION)]


def test_missed_months_are_paid_once_each_as_arrears(make_app):
    app = make_app(APP_NOW="2027-04-02T09:00:00+08:00")
    [rid] = _make(app, _seven_years)
    first = _run(app, "2027-04")
    assert (first["months_paid"], first["arrears_months"]) == (3, 2)
    row = (PENSION, 0, 2000, 0, PENSION + 2000)
    expected = [("2027-02", *row, True), ("2027-03", *row, True), ("2027-04", *row, False)]
    assert _payments(app) == expected
    again = [_run(app, m) for m in ("2027-04", "2027-03", "2027-02")]
    assert [s["months_paid"] for s in again] == [0, 0, 0] and _payments(app) == expected
    assert _balance(app, rid) == SEVEN_YEARS - 3 * PENSION


def test_a_lump_sum_after_the_start_raises_the_pension_from_the_next_month(make_app):
    # The issue: 0 + 20 yuan was paid where 625 + 20 is due (a 5,000-yuan × 15-year lump sum ÷ 120).
    app = make_app(APP_NOW="2027-05-02T09:00:00+08:00")

    def build():
        owner = _old()
        factories.paid_order(
            owner, year=2027, tier_fen=500000, subsidy_fen=0, kind="lump_sum", years=15,
            paid_at=_beijing("2027-03-02T10:00:00"),
        )  # fmt: skip
        return owner

    [rid] = _make(app, build)
    summary = _run(app, "2027-05")
    paid = _payments(app)
    assert (len(paid), summary["arrears_months"]) == (77, 76)  # January 2021 to May 2027
    assert paid[0] == ("2021-01", 0, 0, 2000, 0, 2000, True)
    assert paid[-3:] == [
        ("2027-03", 0, 0, 2000, 0, 2000, True),
        ("2027-04", 62500, 0, 2000, 0, 64500, True),
        ("2027-05", 62500, 0, 2000, 0, 64500, False),
    ]
    assert _balance(app, rid) == 7_500_000 - 2 * 62500


def test_interest_does_not_change_the_pension(make_app):
    app = make_app(APP_NOW="2027-02-02T09:00:00+08:00")
    [rid] = _make(app, _seven_years)
    _run(app, "2027-02")
    with app.app_context():
        db.session.add(
            LedgerEntry(
                resident_id=rid, year=2027, kind="interest", amount_fen=12000, funder="bookkeeping_interest",
                booked_at=_beijing("2027-02-20T00:00:00"),
            )
        )  # fmt: skip
        db.session.commit()
    app.extensions["clock"].freeze(_beijing("2027-03-02T09:00:00"))
    _run(app, "2027-03")
    assert [p[1] for p in _payments(app)] == [PENSION, PENSION]


def test_once_the_account_is_empty_the_fund_pays_the_pension(make_app):
    app = make_app()  # 2027-03-02

    def build():
        # A pension fixed on a balance since paid out (e.g. carried over from the previous system).
        owner = _old(
            benefit_started_on=dt.date(2027, 1, 1),
            benefit_started_at=month_start(dt.date(2027, 1, 1)),
            benefit_account_pension_fen=1966,
        )
        factories.paid_order(owner, year=2021, tier_fen=1000, subsidy_fen=0, paid_at=_beijing("2021-03-02T10:00:00"))
        return owner

    [rid] = _make(app, build)
    summary = _run(app, "2027-03")
    assert _payments(app) == [
        ("2027-01", 1000, 966, 2000, 0, 3966, True),
        ("2027-02", 0, 1966, 2000, 0, 3966, True),
        ("2027-03", 0, 1966, 2000, 0, 3966, False),
    ]
    assert (summary["account_pension_fen"], summary["fund_pension_fen"]) == (1000, 966 + 2 * 1966)
    assert _entries(app, "benefit_payout") == [(rid, -1000)] and _balance(app, rid) == 0


# The month's parts, table-driven (R11)

COLLECTIVE_EXIT = (
    '{"name": "shanxi-2021", "base": "shanxi-2021", "collective_exit_subsidies_fen": {"140121": {"2027": 1500}}}'
)


@pytest.mark.parametrize(
    "fields, month, exit_subsidy, supplements",
    [
        ({}, "2027-03", 2000, 0),
        ({"birth_date": dt.date(1947, 2, 10)}, "2027-02", 2000, 0),  # the month of the 80th birthday
        ({"birth_date": dt.date(1947, 2, 10)}, "2027-03", 3000, 0),  # the month after it: +10 yuan
        ({"categories": ["low_income"], "supporter_capable": False}, "2027-03", 2000, 20000),
        ({"categories": ["low_income", "dibao"], "supporter_capable": False}, "2027-03", 2000, 0),
        ({"categories": ["low_income", "tekun"], "supporter_capable": False}, "2027-03", 2000, 0),
        ({"categories": ["low_income"], "supporter_capable": True}, "2027-03", 2000, 0),
        ({"region_code": "140121"}, "2027-03", 2000, 1500),  # the region's collective exit subsidy
        ({"region_code": "140121"}, "2026-12", 2000, 0),  # set for 2027 only
        ({"region_code": "140121", "categories": ["low_income"], "supporter_capable": False}, "2027-03", 2000, 21500),
    ],
    ids=[
        "exit-subsidy",
        "80th-birthday-month",
        "after-80th",
        "low-income",
        "not-with-dibao",
        "not-with-tekun",
        "capable-supporter",
        "collective-exit",
        "collective-not-that-year",
        "low-income-and-collective",
    ],
)
def test_the_parts_of_a_month(make_app, tmp_path, fields, month, exit_subsidy, supplements):
    policy = tmp_path / "policy.json"
    policy.write_text(COLLECTIVE_EXIT)
    app = make_app(POLICY_FILE=str(policy))
    [rid] = _make(app, lambda: _old(**fields))
    _run(app, "2027-03")
    paid = {p[0]: p for p in _payments(app, rid)}
    assert paid[month][3:6] == (exit_subsidy, supplements, exit_subsidy + supplements)  # empty account: pension 0


@pytest.mark.parametrize(
    "build",
    [
        lambda: factories.resident(birth_date=dt.date(1970, 5, 1), receiving_basic_pension=True),  # too young
        lambda: factories.resident(birth_date=OLD),  # no basic pension
        # 60 on 2021-01-01: five years required, three paid.
        lambda: (
            [
                factories.paid_order(o, year=y, paid_at=_beijing(f"{y}-03-02T10:00:00"))
                for o in [factories.resident(birth_date=dt.date(1960, 3, 10), receiving_basic_pension=True)]
                for y in (2021, 2022, 2023)
            ][0].resident
        ),
    ],
    ids=["too-young", "no-basic-pension", "too-few-years"],
)
def test_residents_not_eligible_get_nothing(make_app, build):
    app = make_app()
    _make(app, build)
    summary = _run(app, "2027-03")
    assert (summary["started"], summary["months_paid"]) == (0, 0) and _payments(app) == []


def test_the_month_after_the_years_are_completed_is_the_first(make_app):
    # 60 on 2021-01-01 (5 years required, 65 in March 2025); the fifth year back-paid in May 2026.
    app = make_app(APP_NOW="2026-07-02T09:00:00+08:00")

    def build():
        owner = factories.resident(birth_date=dt.date(1960, 3, 10), receiving_basic_pension=True)
        for year in (2021, 2022, 2023, 2024):
            factories.paid_order(owner, year=year, paid_at=_beijing(f"{year}-03-02T10:00:00"))
        factories.paid_order(
            owner, year=2025, subsidy_fen=0, kind="back_payment", paid_at=_beijing("2026-05-20T10:00:00")
        )
        return owner

    _make(app, build)
    _run(app, "2026-07")
    assert [p[0] for p in _payments(app)] == ["2026-06", "2026-07"]


# Death (R12)


def test_death_stops_payments_recovers_the_overpayment_and_the_heirs_get_the_rest(make_app):
    app = make_app(APP_NOW="2027-04-02T09:00:00+08:00")
    [rid] = _make(app, _seven_years)
    _run(app, "2027-04")  # February, March, April paid
    _set(app, rid, deceased_on=dt.date(2027, 2, 10))  # learnt late: March and April were overpaid
    app.extensions["clock"].freeze(_beijing("2027-05-02T09:00:00"))
    summary = _run(app, "2027-05")
    assert summary["months_paid"] == 0 and len(_payments(app)) == 3
    # March and April: the account's part was the estate's own money, already paid out; what the fund and
    # the subsidy paid (2 × the 20-yuan exit subsidy) is recovered, and the heirs get the balance at the death.
    overpaid = 2 * 2000
    left = SEVEN_YEARS - 3 * PENSION
    assert (summary["recovered_fen"], summary["inherited_fen"], summary["to_recover_fen"]) == (
        overpaid,
        left - overpaid,
        0,
    )
    assert _entries(app, "recovery") == [(rid, -overpaid)]
    assert _entries(app, "inheritance_payout") == [(rid, -(left - overpaid))]
    assert _balance(app, rid) == 0
    assert (left - overpaid) + 2 * (PENSION + 2000) == SEVEN_YEARS - PENSION  # the estate: the balance at the death
    assert _run(app, "2027-05")["accounts_closed"] == 0  # closed once


def test_what_the_balance_cannot_cover_is_kept_for_review(make_app):
    app = make_app()  # 2027-03-02
    [rid] = _make(
        app,
        lambda: _old(
            benefit_started_on=dt.date(2027, 1, 1),
            benefit_started_at=month_start(dt.date(2027, 1, 1)),
            benefit_account_pension_fen=1966,
        ),
    )
    _run(app, "2027-02")  # January and February, from the fund: the account is empty
    _set(app, rid, deceased_on=dt.date(2026, 12, 20))
    summary = _run(app, "2027-03")
    assert (summary["recovered_fen"], summary["to_recover_fen"]) == (0, 2 * 3966)
    with app.app_context():
        item = db.session.scalar(sa.select(ReviewItem))
        assert item.kind == "benefit_overpaid" and item.detail["to_recover_fen"] == 2 * 3966
    assert _entries(app, "inheritance_payout") == [(rid, 0)]  # closes the account


def test_someone_who_died_before_benefits_leaves_the_whole_balance(make_app):
    app = make_app()
    [rid] = _make(app, lambda: _seven_years(deceased_on=dt.date(2027, 1, 20)))
    summary = _run(app, "2027-03")
    assert (summary["started"], summary["months_paid"], summary["inherited_fen"]) == (0, 0, SEVEN_YEARS)
    assert _entries(app, "inheritance_payout") == [(rid, -SEVEN_YEARS)]


def test_money_reaching_a_closed_account_goes_on_to_the_heirs(make_app):
    app = make_app()
    [rid] = _make(app, lambda: _seven_years(deceased_on=dt.date(2027, 1, 20)))
    _run(app, "2027-03")
    with app.app_context():  # a late callback for an order the family paid before the death
        late = factories.paid_order(db.session.get(Resident, rid), year=2026, kind="back_payment", subsidy_fen=0)
        db.session.commit()
        order_id = late.id
    with app.app_context():
        query = sa.select(LedgerEntry.amount_fen, LedgerEntry.order_id).where(LedgerEntry.kind == "inheritance_payout")
        assert db.session.execute(query.order_by(LedgerEntry.id)).all() == [(-SEVEN_YEARS, None), (-100000, order_id)]
    assert _balance(app, rid) == 0


def test_the_database_holds_a_month_and_a_closing_once(app):
    at = dt.datetime(2027, 3, 1, tzinfo=UTC)
    with app.app_context():
        owner = factories.resident(deceased_on=dt.date(2027, 1, 5))
        for kind in ("inheritance_payout", "recovery"):
            for _ in range(2):
                db.session.add(
                    LedgerEntry(resident_id=owner.id, year=2027, kind=kind, amount_fen=-1, funder="x", booked_at=at)
                )
            with pytest.raises(sa.exc.IntegrityError):
                db.session.flush()
            db.session.rollback()
        owner = factories.resident()
        for _ in range(2):
            db.session.add(
                BenefitPayment(
                    resident_id=owner.id, month=dt.date(2027, 3, 1), account_pension_fen=1, fund_pension_fen=0,
                    exit_subsidy_fen=2000, supplements_fen=0, monthly_fen=2001, booked_at=at,
                )
            )  # fmt: skip
        with pytest.raises(sa.exc.IntegrityError):
            db.session.flush()


def test_the_ledger_stays_append_only(app):
    with app.app_context():
        owner = factories.resident()
        factories.paid_order(owner)
        db.session.commit()
        for statement in ("UPDATE ledger_entries SET amount_fen = 1", "DELETE FROM ledger_entries"):
            with pytest.raises(sa.exc.DatabaseError):
                db.session.execute(sa.text(statement))
            db.session.rollback()


# The command


def test_a_dry_run_prints_the_same_summary_and_writes_nothing(make_app):
    app = make_app(APP_NOW="2027-04-02T09:00:00+08:00")
    _make(app, _seven_years)
    dry = _run(app, "2027-04", "--dry-run")
    assert dry["dry_run"] is True and (dry["started"], dry["months_paid"]) == (1, 3)
    assert _payments(app) == [] and _entries(app, "benefit_payout") == []
    with app.app_context():
        assert db.session.scalar(sa.select(Resident.benefit_started_on)) is None
    real = _run(app, "2027-04")
    assert {k: v for k, v in real.items() if k not in ("dry_run", "seconds")} == {
        k: v for k, v in dry.items() if k not in ("dry_run", "seconds")
    }


@pytest.mark.parametrize(
    "month, message",
    [("2027-04", "can run from 2027-04-01"), ("2027-4x", "YYYY-MM"), ("2020-12", "no policy standard")],
)
def test_a_future_malformed_or_pre_scheme_month_is_refused(make_app, month, message):
    result = make_app().test_cli_runner().invoke(args=["benefits", "run", "--month", month])
    assert result.exit_code != 0 and message in result.output


# The account view (R11): what is paid, not balance ÷ 120 of today


def test_the_account_shows_the_pension_in_payment_with_its_raise(make_app):
    app = make_app(APP_NOW="2027-02-02T09:00:00+08:00")
    [rid] = _make(app, _seven_years)
    _run(app, "2027-02")
    with app.app_context():
        owner = db.session.get(Resident, rid)
        factories.paid_order(  # credited after the start: +1,000 a month from March
            owner, year=2026, kind="back_payment", tier_fen=120000, subsidy_fen=0,
            paid_at=_beijing("2027-02-10T10:00:00"),
        )  # fmt: skip
        user_id, public_id = factories.user(owner).id, owner.public_id
        db.session.commit()

    def benefit() -> dict:
        with app.app_context():  # signed in at the clock's time
            headers = factories.auth_header(db.session.get(WeChatUser, user_id))
        body = app.test_client().get(f"/api/v1/residents/{public_id}/account", headers=headers).get_json()
        assert body["status"] == "receiving"
        return body["benefit"]

    february = benefit()
    assert (february["account_pension_fen"], february["monthly_fen"]) == (PENSION, PENSION + 2000)
    assert "终身不变" in february["assumptions"][0]
    app.extensions["clock"].freeze(_beijing("2027-03-02T09:00:00"))
    assert benefit()["account_pension_fen"] == PENSION + 1000  # not (balance now) ÷ 120 = 7,941
    _run(app, "2027-03")
    assert _payments(app)[-1][:2] == ("2027-03", PENSION + 1000)
