"""`flask --app wsgi benefits run --month YYYY-MM` (POLICY.md R11, R12): start, pay, inherit, once."""

import datetime as dt

import pytest
import sqlalchemy as sa

from models import BenefitPayment, LedgerEntry, Resident, WeChatUser, db
from tests.support import factories

UTC = dt.timezone.utc
OLD = dt.date(1955, 6, 15)  # 65 on 2021-01-01: needs no contributions (R11)
BALANCE = 236000  # tier 200,000 + subsidy 36,000
PENSION = 1966  # 236,000 ÷ 120 = 1,966.67, rounded down


def _pensioner(**fields) -> Resident:
    fields.setdefault("birth_date", OLD)
    owner = factories.resident(receiving_basic_pension=True, **fields)
    factories.paid_order(
        owner, year=2021, tier_fen=200000, subsidy_fen=36000, paid_at=dt.datetime(2021, 3, 2, 2, tzinfo=UTC)
    )
    return owner


def _build(app, make) -> list[int]:
    with app.app_context():
        made = make()
        db.session.commit()
        return [row.id for row in made]


def _run(app, *months: str) -> list[str]:
    runner = app.test_cli_runner()
    results = [runner.invoke(args=["benefits", "run", "--month", month]) for month in months]
    assert all(r.exit_code == 0 for r in results), [r.output for r in results]
    return [r.output.strip() for r in results]


def _payments(app) -> list[tuple]:
    with app.app_context():
        return [
            tuple(row)
            for row in db.session.execute(
                sa.select(
                    BenefitPayment.resident_id,
                    BenefitPayment.month,
                    BenefitPayment.account_pension_fen,
                    BenefitPayment.exit_subsidy_fen,
                    BenefitPayment.monthly_fen,
                ).order_by(BenefitPayment.id)
            )
        ]


def _entries(app, kind: str) -> list[tuple]:
    with app.app_context():
        return [
            tuple(row)
            for row in db.session.execute(
                sa.select(LedgerEntry.resident_id, LedgerEntry.year, LedgerEntry.amount_fen, LedgerEntry.funder)
                .where(LedgerEntry.kind == kind)
                .order_by(LedgerEntry.id)
            )
        ]


def _account(app, resident_id: int) -> dict:
    with app.app_context():
        owner = db.session.get(Resident, resident_id)
        user = db.session.scalar(sa.select(WeChatUser).where(WeChatUser.resident_id == owner.id))
        headers, public_id = factories.auth_header(user or factories.user(owner)), owner.public_id
        db.session.commit()
    return app.test_client().get(f"/api/v1/residents/{public_id}/account", headers=headers).get_json()


def test_the_first_run_fixes_the_pension_and_pays_the_month(make_app):
    app = make_app()  # 2027-03-02
    [rid] = _build(app, lambda: [_pensioner()])
    assert _account(app, rid)["status"] == "eligible"
    assert _run(app, "2027-03") == ["benefits for 2027-03: started 1, paid 1, inheritance 0"]
    with app.app_context():
        owner = db.session.get(Resident, rid)
        assert (owner.benefit_started_on, owner.benefit_account_pension_fen) == (dt.date(2027, 3, 1), PENSION)
        payout = db.session.scalar(sa.select(LedgerEntry).where(LedgerEntry.kind == "benefit_payout"))
        assert payout.booked_at == dt.datetime(2027, 2, 28, 16, tzinfo=UTC)  # 1 March 00:00 Beijing
    assert _payments(app) == [(rid, dt.date(2027, 3, 1), PENSION, 2000, PENSION + 2000)]
    assert _entries(app, "benefit_payout") == [(rid, 2027, -PENSION, "benefit")]
    account = _account(app, rid)
    assert account["status"] == "receiving" and account["balance_fen"] == BALANCE - PENSION
    assert account["by_source"]["paid_out_fen"] == PENSION


def test_the_pension_stays_fixed_and_a_month_is_paid_once(make_app):
    app = make_app(APP_NOW="2027-05-02T09:00:00+08:00")
    [rid] = _build(app, lambda: [_pensioner()])
    _run(app, "2027-03", "2027-04")
    # The balance fell to 234,034 (÷ 120 = 1,950), but the pension fixed at the start is paid.
    assert [p[2] for p in _payments(app)] == [PENSION, PENSION]
    assert _run(app, "2027-04", "2027-03") == [
        f"benefits for 2027-{m}: started 0, paid 0, inheritance 0" for m in ("04", "03")
    ]
    assert len(_payments(app)) == 2 and len(_entries(app, "benefit_payout")) == 2
    assert _account(app, rid)["balance_fen"] == BALANCE - 2 * PENSION


def test_residents_not_eligible_get_nothing(make_app):
    app = make_app()

    def make():
        too_young = _pensioner(birth_date=dt.date(1970, 5, 1))
        no_basic_pension = factories.resident(birth_date=OLD)
        factories.paid_order(no_basic_pension, year=2021)
        # 60 on 2021-01-01: five years required, three paid.
        short = factories.resident(birth_date=dt.date(1960, 3, 10), receiving_basic_pension=True)
        for year in (2021, 2022, 2023):
            factories.paid_order(short, year=year)
        return [too_young, no_basic_pension, short]

    rids = _build(app, make)
    assert _run(app, "2027-03") == ["benefits for 2027-03: started 0, paid 0, inheritance 0"]
    assert _payments(app) == [] and _entries(app, "benefit_payout") == []
    assert [_account(app, rid)["status"] for rid in rids] == ["contributing"] * 3


def test_the_80th_birthday_adds_10_yuan_from_the_month_after(make_app):
    app = make_app(APP_NOW="2027-06-02T09:00:00+08:00")
    _build(app, lambda: [_pensioner(birth_date=dt.date(1947, 5, 10))])  # 80 on 2027-05-10
    _run(app, "2027-05", "2027-06")
    assert [(p[1].month, p[3], p[4]) for p in _payments(app)] == [(5, 2000, PENSION + 2000), (6, 3000, PENSION + 3000)]


def test_the_low_income_supplement_is_not_combined_with_dibao(make_app):
    app = make_app()
    _build(
        app,
        lambda: [
            _pensioner(categories=["low_income"], supporter_capable=False),
            _pensioner(categories=["low_income", "dibao"], supporter_capable=False),
            _pensioner(categories=["low_income"]),
        ],
    )
    _run(app, "2027-03")
    assert [p[3] for p in _payments(app)] == [22000, 2000, 2000]
    # Exit subsidies are government money: only the account pension leaves the account.
    assert [e[2] for e in _entries(app, "benefit_payout")] == [-PENSION] * 3


def test_death_stops_benefits_after_its_month_and_the_heirs_get_the_balance_once(make_app):
    app = make_app(APP_NOW="2027-07-02T09:00:00+08:00")
    [rid, never_started] = _build(
        app, lambda: [_pensioner(), _pensioner(birth_date=dt.date(1970, 5, 1), deceased_on=dt.date(2027, 2, 10))]
    )
    assert _run(app, "2027-03") == ["benefits for 2027-03: started 1, paid 1, inheritance 1"]
    with app.app_context():
        db.session.get(Resident, rid).deceased_on = dt.date(2027, 4, 20)
        db.session.commit()
    assert _run(app, "2027-04", "2027-05", "2027-05", "2027-06")[1:] == [
        "benefits for 2027-05: started 0, paid 0, inheritance 1",
        "benefits for 2027-05: started 0, paid 0, inheritance 0",
        "benefits for 2027-06: started 0, paid 0, inheritance 0",
    ]
    assert [p[1].month for p in _payments(app)] == [3, 4]  # paid through the month of death
    assert _entries(app, "inheritance_payout") == [
        (never_started, 2027, -BALANCE, "inheritance"),
        (rid, 2027, -(BALANCE - 2 * PENSION), "inheritance"),
    ]
    account = _account(app, rid)
    assert account["status"] == "closed" and account["balance_fen"] == 0
    assert account["by_source"]["paid_out_fen"] == BALANCE


def test_the_database_refuses_a_second_inheritance_or_payment(make_app):
    app = make_app()
    with app.app_context():
        owner = factories.resident(deceased_on=dt.date(2027, 1, 5))
        at = dt.datetime(2027, 3, 1, tzinfo=UTC)
        for _ in range(2):
            db.session.add(
                LedgerEntry(
                    resident_id=owner.id,
                    year=2027,
                    kind="inheritance_payout",
                    amount_fen=-1,
                    funder="inheritance",
                    booked_at=at,
                )
            )
        with pytest.raises(sa.exc.IntegrityError):
            db.session.flush()
        db.session.rollback()
        owner = factories.resident()
        for _ in range(2):
            db.session.add(
                BenefitPayment(
                    resident_id=owner.id,
                    month=dt.date(2027, 3, 1),
                    account_pension_fen=1,
                    exit_subsidy_fen=2000,
                    monthly_fen=2001,
                    booked_at=at,
                )
            )
        with pytest.raises(sa.exc.IntegrityError):
            db.session.flush()


def test_the_account_is_never_driven_below_zero(make_app):
    app = make_app()

    def make():
        # A pension fixed on a balance since paid out (e.g. carried over from the previous system).
        owner = factories.resident(
            birth_date=OLD,
            receiving_basic_pension=True,
            benefit_started_on=dt.date(2027, 1, 1),
            benefit_account_pension_fen=PENSION,
        )
        factories.paid_order(owner, year=2021, tier_fen=1000, subsidy_fen=0)
        return [owner]

    [rid] = _build(app, make)
    _run(app, "2027-03")
    assert _payments(app) == [(rid, dt.date(2027, 3, 1), PENSION, 2000, PENSION + 2000)]
    assert _entries(app, "benefit_payout") == [(rid, 2027, -1000, "benefit")]  # the rest: pooled fund


@pytest.mark.parametrize(
    "month, message",
    [("2027-04", "can run from 2027-04-01"), ("2027-4x", "YYYY-MM"), ("2020-12", "no policy standard")],
)
def test_a_future_malformed_or_pre_scheme_month_is_refused(make_app, month, message):
    result = make_app().test_cli_runner().invoke(args=["benefits", "run", "--month", month])
    assert result.exit_code != 0 and message in result.output
